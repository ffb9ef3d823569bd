"""RateShare pacing with an injected clock: alone unpaced, beside others held to its rate."""

import pytest

from edgeserve_ros.web.rate import RateShare


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _flood(rate, clock, client, seconds, beside=None):
    """Send as fast as allowed for ``seconds``; ``beside`` sends once every 0.1 s."""
    end, sent, next_small = clock.now + seconds, 0, clock.now
    while clock.now < end:
        if beside is not None and clock.now >= next_small:
            assert rate.charge(beside) == 0.0  # 10/s is under its share: never waits
            next_small += 0.1
        delay = rate.charge(client)
        clock.now += max(delay, 0.001)  # the reader waits the delay, then reads the next
        sent += 1
    return sent


def test_a_client_alone_is_never_paced():
    clock = Clock()
    rate = RateShare(30.0, 8, clock=clock)
    assert _flood(rate, clock, 'ws-1', 2.0) == 2000  # one frame per ms
    assert rate.paced == 0


def test_beside_an_active_client_a_flooder_gets_its_rate_plus_the_burst():
    clock = Clock()
    rate = RateShare(30.0, 8, clock=clock)
    sent = _flood(rate, clock, 'ws-1', 10.0, beside='ws-2')
    assert 30 * 10 <= sent <= 30 * 10 + 8 + 1
    assert rate.paced >= sent - 8 - 1


def test_pacing_ends_when_the_others_go_quiet_and_carries_no_debt():
    clock = Clock()
    rate = RateShare(30.0, 8, active_s=1.0, clock=clock)
    rate.charge('ws-2')
    assert _flood(rate, clock, 'ws-1', 0.5) <= 30 * 0.5 + 8 + 1
    clock.now += 1.0  # ws-2 silent for over active_s
    assert rate.charge('ws-1') == 0.0
    assert _flood(rate, clock, 'ws-1', 0.5) == 500
    rate.charge('ws-2')  # back: the flooder starts from its burst, not from a debt
    assert [rate.charge('ws-1') for _ in range(8)] == [0.0] * 8
    assert rate.charge('ws-1') > 0


def test_http_requests_count_as_active_without_being_paced():
    clock = Clock()
    rate = RateShare(10.0, 2, clock=clock)
    for _ in range(50):
        rate.touch('10.0.0.7')
    assert rate.paced == 0
    delays = [rate.charge('ws-1') for _ in range(4)]
    assert delays[:2] == [0.0, 0.0] and delays[2] == pytest.approx(0.1)


def test_forget_and_pruning_bound_the_state():
    clock = Clock()
    rate = RateShare(30.0, 8, active_s=1.0, clock=clock)
    for i in range(1000):
        rate.charge(f'ws-{i}')
        clock.now += 0.05
    assert len(rate._seen) <= 64 + 1 and len(rate._tat) <= 64 + 1
    rate.charge('ws-1000')
    rate.forget('ws-1000')
    assert 'ws-1000' not in rate._seen and 'ws-1000' not in rate._tat


@pytest.mark.parametrize('args', [(0.0, 8), (30.0, 0), (-1.0, 1)])
def test_bad_arguments_are_refused(args):
    with pytest.raises(ValueError):
        RateShare(*args)

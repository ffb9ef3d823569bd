"""Worker fault draws: seeded, counted, and free when off."""

import threading
import time

import pytest

from edgeserve_ros.models.link_faults import LinkFaults


def test_no_faults_keep_everything_and_never_wait():
    faults = LinkFaults()
    assert faults.keep(list(range(100))) == list(range(100))
    assert not any(faults.answer_lost() for _ in range(100))
    assert faults.remaining(10.0, 10.0) == 0.0 and faults.dropped == 0


def test_drop_and_loss_are_seeded_and_counted():
    runs = [LinkFaults(drop=0.3, loss=0.1, seed=5).keep(list(range(2000))) for _ in range(2)]
    assert runs[0] == runs[1]  # the same seed, the same items
    kept = len(runs[0])
    assert 0.6 * 2000 * 0.8 < kept < 0.7 * 2000 * 0.95  # about (1 - 0.3) * (1 - 0.1)
    faults = LinkFaults(loss=0.5, seed=1)
    lost = sum(faults.answer_lost() for _ in range(1000))
    assert faults.lost_answers == lost and 400 < lost < 600


def test_delay_counts_from_the_arrival_and_a_stop_ends_it():
    faults = LinkFaults(delay=0.2)
    assert faults.remaining(10.0, 10.15) == pytest.approx(0.05)  # arrived 150 ms ago
    assert faults.remaining(10.0, 10.5) == 0.0
    stop = threading.Event()
    stop.set()
    begin = time.monotonic()
    LinkFaults(delay=30.0, stop=stop).arrive(begin)
    assert time.monotonic() - begin < 5.0


@pytest.mark.parametrize('kwargs', [{'drop': 1.5}, {'loss': -0.1}, {'delay': -1.0}])
def test_bad_values_name_the_parameter(kwargs):
    with pytest.raises(ValueError, match='fault_' + next(iter(kwargs))):
        LinkFaults(**kwargs)

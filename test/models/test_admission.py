"""Admission: bounded inputs in progress, latest wins, skipped inputs counted."""

from hypothesis import given, strategies as st
import pytest

from edgeserve_ros.models.admission import Admission


def test_unbounded_admits_everything():
    gate = Admission(0)
    assert [gate.offer(i) for i in range(100)] == list(range(100))
    assert gate.skipped == 0 and gate.done() is None


def test_latest_wins_past_the_bound():
    gate = Admission(1)
    assert gate.offer('a') == 'a'
    assert gate.offer('b') is None and gate.offer('c') is None  # b replaced by c
    assert gate.skipped == 1
    assert gate.done() == 'c'  # a finished: the newest waiting input starts
    assert gate.done() is None and gate.in_progress == 0


def test_negative_limit_is_refused():
    with pytest.raises(ValueError, match='limit'):
        Admission(-1)


@given(st.integers(1, 4), st.lists(st.booleans(), max_size=200))
def test_bound_holds_and_nothing_is_lost_silently(limit, ops):
    """Every offered input is started, skipped or still waiting; never more than limit run."""
    gate, started, offered, running = Admission(limit), [], 0, 0
    for is_offer in ops:
        if is_offer:
            offered += 1
            item = gate.offer(offered)
            started += [item] if item is not None else []
        elif running:
            item = gate.done()
            started += [item] if item is not None else []
        running = gate.in_progress
        assert running <= limit
    waiting = offered - len(started) - gate.skipped
    assert waiting in (0, 1)
    assert started == sorted(started)  # inputs start in arrival order

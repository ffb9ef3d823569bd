"""Feature assembly fills and the pure micro-batcher."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeserve_ros.models.batching import MicroBatcher
from edgeserve_ros.models.features import FeatureAssembler, MissingMemberError


def test_concatenates_in_config_order():
    """Concatenates in config order."""
    fa = FeatureAssembler(['b', 'a'])
    row = fa.row({'a': np.array([1.0, 2.0]), 'b': np.array([[3.0]])})
    assert row.tolist() == [3.0, 1.0, 2.0]


def test_fill_modes():
    """Fill modes."""
    with pytest.raises(MissingMemberError, match="'a'"):
        FeatureAssembler(['a'], 'error').row({'a': None})
    zeros = FeatureAssembler(['a', 'b'], 'zeros', {'b': 2})
    assert zeros.row({'a': np.ones(1), 'b': None}).tolist() == [1.0, 0.0, 0.0]
    last = FeatureAssembler(['a', 'b'], 'last')
    last.row({'a': np.ones(1), 'b': np.array([5.0, 6.0])})
    assert last.row({'a': np.zeros(1)}).tolist() == [0.0, 5.0, 6.0]
    with pytest.raises(MissingMemberError):
        FeatureAssembler(['a'], 'last').row({'a': None})
    with pytest.raises(ValueError, match='expected 2 features'):
        zeros.row({'a': np.ones(1), 'b': np.ones(3)})


def test_batcher_size_and_delay():
    """Batcher size and delay."""
    b = MicroBatcher(max_batch=3, max_delay_s=0.05)
    assert b.add('x', 0.0) is None and b.add('y', 0.01) is None
    assert b.due(0.04) is None and b.deadline() == pytest.approx(0.05)
    assert b.due(0.05) == ['x', 'y'] and b.deadline() is None
    assert b.add(1, 1.0) is None and b.add(2, 1.0) is None
    assert b.add(3, 1.0) == [1, 2, 3]
    assert b.flush() == [] and len(b) == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.floats(0.0, 0.2),
       st.lists(st.floats(0.0, 0.1), min_size=0, max_size=40))
def test_batcher_loses_nothing_and_respects_bounds(max_batch, max_delay, gaps):
    """Batcher loses nothing and respects bounds."""
    b, now, out = MicroBatcher(max_batch, max_delay), 0.0, []
    for i, gap in enumerate(gaps):
        now += gap
        due = b.due(now)
        if due:
            out.append((now, due))
        full = b.add((i, now), now)
        if full:
            out.append((now, full))
    rest = b.flush()
    items = [it for _, batch in out for it in batch] + rest
    assert [i for i, _ in items] == list(range(len(gaps)))
    for at, batch in out:
        assert 1 <= len(batch) <= max_batch
        assert len(batch) == max_batch or at >= batch[0][1] + max_delay

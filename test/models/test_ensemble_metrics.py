"""Ensemble rules under a skew bound, the stacker, and the §6.2 metrics."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeserve_ros.models.ensemble import Ensemble, LocalPrediction as LP, majority_vote
from edgeserve_ros.models.metrics import (excess_examples, macro_f1, real_time_accuracy,
                                          real_time_f1)
from edgeserve_ros.models.stacking import train_stacker

SOURCES = ['acc', 'back', 'left', 'shoes']


def test_late_unpopular_vote_is_dropped():
    """Late unpopular vote is dropped."""
    members = {'acc': LP(10.00, 'Walk'), 'back': LP(10.01, 'Walk'),
               'left': LP(9.90, 'Sit'), 'shoes': None}
    res = Ensemble(SOURCES, max_skew=0.05).combine(members)
    assert res.label == 'Walk' and res.used == ['acc', 'back']
    assert res.dropped == ['left'] and res.missing == ['shoes'] and res.stamp == 10.01
    res = Ensemble(SOURCES, max_skew=None).combine(members)
    assert res.used == ['acc', 'back', 'left'] and res.dropped == []


def test_all_missing_gives_no_label():
    """All missing gives no label."""
    res = Ensemble(SOURCES).combine(dict.fromkeys(SOURCES))
    assert res.label is None and res.missing == SOURCES


def test_tie_breaks_are_deterministic():
    """Tie breaks are deterministic."""
    m = {'acc': LP(1.0, 'B'), 'back': LP(2.0, 'A')}
    assert majority_vote(m, ['acc', 'back'], 'freshest')[0] == 'A'
    assert majority_vote(m, ['acc', 'back'], 'order')[0] == 'B'
    assert majority_vote(m, ['acc', 'back'], 'sorted')[0] == 'A'
    m = {'acc': LP(1.0, 'B'), 'back': LP(1.0, 'A')}
    assert majority_vote(m, ['acc', 'back'], 'freshest')[0] == 'A'


@given(st.lists(st.sampled_from('ABC'), min_size=1, max_size=4), st.randoms())
def test_majority_independent_of_member_dict_order(labels, rnd):
    """Majority independent of member dict order."""
    m = {SOURCES[i]: LP(float(i), lab) for i, lab in enumerate(labels)}
    items = list(m.items())
    rnd.shuffle(items)
    ens = Ensemble(SOURCES)
    assert ens.combine(dict(items)).label == ens.combine(m).label


def test_weighted_vote_uses_weights_and_probabilities():
    """Weighted vote uses weights and probabilities."""
    m = {'acc': LP(0.0, 'A'), 'back': LP(0.0, 'B'), 'left': LP(0.0, 'B')}
    assert Ensemble(SOURCES, 'weighted', weights={'acc': 3.0}).combine(m).label == 'A'
    m = {'acc': LP(0.0, 'A', [0.55, 0.45]), 'back': LP(0.0, 'B', [0.1, 0.9])}
    res = Ensemble(SOURCES, 'weighted', classes=['A', 'B']).combine(m)
    assert res.label == 'B' and res.scores['B'] == pytest.approx(1.35)


def test_stacker_learns_to_trust_the_reliable_member():
    """Stacker learns to trust the reliable member."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    outputs = {'good': y.copy(), 'noisy1': rng.integers(0, 2, 400),
               'noisy2': rng.integers(0, 2, 400)}
    st_ = train_stacker(outputs, y, classes=[0, 1], drop_rate=0.1, use_proba=False)
    ens = Ensemble(['good', 'noisy1', 'noisy2'], 'stacker', stacker=st_)
    m = {'good': LP(0.0, 1), 'noisy1': LP(0.0, 0), 'noisy2': LP(0.0, 0)}
    res = ens.combine(m)
    assert res.label == 1 and res.used == ['good', 'noisy1', 'noisy2']
    with pytest.raises(ValueError, match='stacker'):
        Ensemble(SOURCES, 'stacker')
    with pytest.raises(ValueError, match='rule'):
        Ensemble(SOURCES, 'median')


def test_real_time_accuracy_uses_last_known_label():
    """Real time accuracy uses last known label."""
    labels = [(0.0, 'Stand'), (1.0, 'Walk'), (2.0, 'Sit')]
    preds = [(0.5, 'Stand'), (1.2, 'Stand'), (2.0, 'Sit'), (-1.0, 'Lie')]
    assert real_time_accuracy(preds, labels) == pytest.approx(2 / 3)
    assert real_time_accuracy([], labels) == 0.0
    assert real_time_f1([(0.1, 'a'), (1.1, 'b')], [(0, 'a'), (1, 'b')]) == 1.0
    assert macro_f1(['a', 'a', 'b'], ['a', 'b', 'b']) == pytest.approx(2 / 3)
    assert excess_examples(120, 100) == 20 and excess_examples(80, 100) == -20

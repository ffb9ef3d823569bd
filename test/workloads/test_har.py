"""HAR workload: column split, and forests reproducing the paper's qualitative results."""

import numpy as np
import pytest

from edgeserve_ros.models.ensemble import Ensemble, LocalPrediction
from edgeserve_ros.workloads.har import (CLASSES, GROUPS, N_COLUMNS, column_names,
                                         generate_run, make_har_runs, split_groups)
from edgeserve_ros.workloads.har_train import group_probas, train_har_models


def test_columns_and_groups_match_the_paper():
    """Columns and groups match the paper."""
    names = column_names()
    assert len(names) == N_COLUMNS == 134 and names[0] == 'MILLISEC'
    assert [(g[1], g[2]) for g in GROUPS] == [(1, 37), (38, 76), (77, 102), (103, 134)]
    run = generate_run(duration_s=10)
    widths = {k: v.shape[1] for k, v in split_groups(run.x).items()}
    assert list(widths.values()) == [37, 39, 26, 32]
    assert np.allclose(np.diff(run.t), 0.033)
    assert set(run.y) <= set(CLASSES)


def test_seeded_and_deterministic():
    """Seeded and deterministic."""
    a, b = generate_run(3, 4, 5.0), generate_run(3, 4, 5.0)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, generate_run(3, 5, 5.0).x)


@pytest.fixture(scope='module')
def trained():
    """Return the runs and the trained HAR models."""
    runs = make_har_runs(0)
    return runs, train_har_models(runs=runs)


def test_forest_accuracies(trained):
    """Forest accuracies."""
    runs, (all_rf, group_rfs, stacker) = trained
    test = runs[-1]
    acc_all = float(np.mean(all_rf.predict(test.x) == test.y))
    probas = group_probas(group_rfs, test.x)
    group_acc = [float(np.mean(np.array(CLASSES)[p.argmax(1)] == test.y))
                 for p in probas.values()]
    assert acc_all >= 0.85
    assert all(0.5 <= a < acc_all for a in group_acc)
    vote = Ensemble(list(probas))
    stack = Ensemble(list(probas), 'stacker', stacker=stacker)
    votes, stacked = [], []
    for i in range(0, len(test.y), 3):
        m = {k: LocalPrediction(0.0, CLASSES[int(p[i].argmax())], p[i])
             for k, p in probas.items()}
        votes.append(vote.combine(m).label)
        stacked.append(stack.combine(m).label)
    y = test.y[::3]
    assert float(np.mean(np.array(votes) == y)) >= acc_all - 0.06  # decentralized ~ central
    assert float(np.mean(np.array(stacked) == y)) >= 0.85

"""NIDS workload: CIC-style columns, four sources, a decent classifier."""

import numpy as np

from edgeserve_ros.workloads.nids import (FEATURES, LABELS, SOURCE_IPS, generate_flows,
                                          split_by_source, train_nids_classifier)


def test_columns_labels_and_sources():
    """Columns labels and sources."""
    rec = generate_flows(3000, seed=1)
    assert rec.x.shape == (3000, len(FEATURES)) and 'Flow Bytes/s' in FEATURES
    assert set(rec.labels) <= set(LABELS) and 'BENIGN' in set(rec.labels)
    parts = split_by_source(rec)
    assert list(parts) == list(SOURCE_IPS)
    assert sum(len(p.labels) for p in parts.values()) == 3000
    assert np.isfinite(rec.x).all()
    assert np.array_equal(generate_flows(50, 2).x, generate_flows(50, 2).x)


def test_classifier_accuracy():
    """Classifier accuracy."""
    rf = train_nids_classifier(generate_flows(6000, seed=0), n_estimators=15)
    test = generate_flows(2000, seed=1)
    assert float(np.mean(rf.predict(test.x) == test.labels)) >= 0.9

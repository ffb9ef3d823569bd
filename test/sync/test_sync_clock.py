"""Clock offset estimation and what it fixes."""

import random

import pytest

from edgeserve_ros.sync import (EnvelopeOffsetEstimator, HeaderEvent, PingOffsetEstimator,
                                StampCorrector, SyncConfig)
from edgeserve_ros.sync.replay import synchronize


def test_envelope_finds_offset_plus_min_latency():
    """Envelope finds offset plus min latency."""
    rnd = random.Random(1)
    est = EnvelopeOffsetEstimator(window=5.0)
    assert est.offset is None
    for k in range(500):
        stamp = k * 0.01
        est.update(stamp - 0.2, stamp + 0.005 + 0.02 * rnd.random())
    assert est.offset == pytest.approx(0.205, abs=0.001)


def test_envelope_window_follows_a_clock_step():
    """Envelope window follows a clock step."""
    est = EnvelopeOffsetEstimator(window=1.0)
    for k in range(100):
        est.update(k * 0.01, k * 0.01 + 0.01)
    assert est.offset == pytest.approx(0.01)
    for k in range(100, 300):
        est.update(k * 0.01 - 0.5, k * 0.01 + 0.01)
    assert est.offset == pytest.approx(0.51)


def test_ping_estimator():
    """Ping estimator."""
    rnd = random.Random(2)
    est = PingOffsetEstimator(window=100.0)
    for k in range(50):
        t0 = float(k)
        up, down = 0.001 + 0.05 * rnd.random(), 0.001 + 0.05 * rnd.random()
        t1 = t0 + up - 0.3
        t2 = t1 + 0.0001
        est.add_ping(t0, t1, t2, t2 + 0.3 + down)
    assert est.offset == pytest.approx(0.3, abs=0.005)
    with pytest.raises(ValueError, match='^ping'):
        est.add_ping(0.0, 1.0, 2.0, 0.5)
    with pytest.raises(ValueError, match='^window'):
        PingOffsetEstimator(window=0.0)


def test_stamp_corrector_keeps_reference_clock():
    """Stamp corrector keeps reference clock."""
    corr = StampCorrector(['a', 'b'], 'a', 10.0)
    assert corr.correct('b', 1.2, 1.01) == 1.2, 'no reference yet: unchanged'
    assert corr.correct('a', 1.0, 1.01) == 1.0
    assert corr.correct('b', 1.3, 1.11) == pytest.approx(1.1)
    assert corr.offsets() == pytest.approx({'a': 0.01, 'b': -0.19})


def skewed_trace(offset_b):
    """Return two 50 Hz sources; ``b``'s clock is ``offset_b`` ahead."""
    events = []
    for k in range(100):
        t = k * 0.02
        events.append(HeaderEvent('a', k, t, t + 0.004))
        events.append(HeaderEvent('b', k, t + offset_b, t + 0.005))
    return sorted(events, key=lambda e: e.arrival)


def mismatch(tuples):
    """True-time distance (seq difference * 20 ms) of the fresh pairs after warm-up."""
    return [abs(t.members['a'].seq - t.members['b'].seq) * 0.02 for t in tuples[3:]
            if t.members['b'] is not None and t.members['b'].state == 'fresh']


def test_source_ahead_is_mismatched_without_correction():
    """Source ahead is mismatched without correction."""
    base = dict(period=0.1, max_skew=0.01, max_age=0.5, streams=('a', 'b'))
    raw = synchronize(skewed_trace(0.2), SyncConfig(**base))
    both = [t for t in raw[3:] if all(m is not None and m.state == 'fresh'
                                      for m in t.members.values())]
    assert len(raw) > 15 and not both, 'stamps 200 ms apart never share a 10 ms window'
    fixed = synchronize(skewed_trace(0.2), SyncConfig(**base, clock='envelope'))
    assert len(mismatch(fixed)) >= 15 and max(mismatch(fixed)) <= 0.02


def test_source_behind_is_never_fresh_without_correction():
    """Source behind is never fresh without correction."""
    base = dict(period=0.1, max_skew=0.01, max_age=0.1, streams=('a', 'b'))
    raw = synchronize(skewed_trace(-0.2), SyncConfig(**base))
    assert all(t.members['b'] is None for t in raw), 'always older than max_age'
    fixed = synchronize(skewed_trace(-0.2), SyncConfig(**base, clock='envelope'))
    assert sum(t.members['b'] is not None and t.members['b'].state == 'fresh'
               for t in fixed) >= 15
    assert max(mismatch(fixed)) <= 0.01

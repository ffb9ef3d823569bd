"""Property-based tests: the synchronizer's invariants on random traces."""

import os
import random

from hypothesis import given, HealthCheck, settings, strategies as st

from edgeserve_ros.sync import StreamSpec, SyncConfig, Synchronizer
from edgeserve_ros.sync.replay import synchronize
from sync_checks import (check_freshest, check_invariants, count_live_ticks, make_stream,
                         merge)

stream_params = st.fixed_dictionaries({
    'rate': st.floats(2.0, 300.0),
    'latency': st.floats(0.0, 0.08),
    'jitter': st.floats(0.0, 0.05),
    'start': st.floats(0.0, 0.3),
    'dead': st.none() | st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    'loss': st.sampled_from([0.0, 0.0, 0.2]),
    'offset': st.sampled_from([0.0, 0.0, 0.05, -0.05]),
})
EXAMPLES = int(os.environ.get('SYNC_HYPOTHESIS_EXAMPLES', '150'))
configs = st.fixed_dictionaries({
    'period': st.floats(0.005, 0.2),
    'max_skew': st.sampled_from([0.0, 0.001, 0.01, 0.03, 0.1]),
    'max_age': st.sampled_from([0.0, 0.05, 0.2, 1.0, float('inf')]),
    'policy': st.sampled_from(['impute', 'partial', 'skip']),
    'optional_last': st.booleans(),
})


def _build(streams, conf, seed):
    """Return (events, config) for drawn stream and config parameters."""
    rnd = random.Random(seed)
    names = [f's{i}' for i in range(len(streams))]
    per = []
    for name, p in zip(names, streams):
        dead = (min(p['dead']), max(p['dead'])) if p['dead'] else None
        per.append(make_stream(name, p['rate'], p['latency'], p['jitter'], p['start'],
                               1.2, rnd, dead=dead, loss=p['loss'], offset=p['offset']))
    specs = [StreamSpec(n, required=not (conf['optional_last'] and i == len(names) - 1
                                         and i > 0), queue_size=10_000)
             for i, n in enumerate(names)]
    cfg = SyncConfig(period=conf['period'], max_skew=conf['max_skew'],
                     max_age=conf['max_age'], policy=conf['policy'], streams=tuple(specs))
    return merge(*per), cfg


def _synchronize_checked(events, cfg):
    """Synchronize ``events``; check the contract, freshness and the emission instants."""
    start = events[0].arrival
    tuples = synchronize(events, cfg)
    check_invariants(events, cfg, start, tuples)
    check_freshest(events, cfg, tuples)
    arrivals = {e.arrival for e in events}
    for prev, tup in zip([None] + tuples, tuples):
        at = [tup.tick, tup.tick + cfg.max_skew] + ([prev.emit_time] if prev else [])
        assert tup.emit_time in arrivals or min(abs(tup.emit_time - x) for x in at) < 1e-9, (
            f'emitted at {tup.emit_time}: neither an arrival, the tick, nor the deadline')
    return tuples


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stream_params, min_size=1, max_size=4), configs, st.integers(0, 2**32))
def test_invariants_on_random_traces(streams, conf, seed):
    """Invariants on random traces."""
    events, cfg = _build(streams, conf, seed)
    if not events:
        return
    start = events[0].arrival
    tuples = _synchronize_checked(events, cfg)
    assert synchronize(events, cfg) == tuples, 'determinism'
    end = events[-1].arrival
    emitted = {round((t.tick - start) / cfg.period) for t in tuples}
    if cfg.policy == 'impute':
        live = count_live_ticks(events, cfg, start, end)
        missing = [x for x in live if round((x - start) / cfg.period) not in emitted]
        assert not missing, f'rate: live ticks without a tuple: {missing[:5]}'
    sync = Synchronizer(cfg, start)
    for e in events:
        sync.add(e)
    sync.advance(end + cfg.max_skew)
    n_ticks = int((end - start) / cfg.period + 1e-9) + 1
    extra = int(cfg.max_skew / cfg.period) + 2
    s = sync.stats
    assert s.tuples == len(tuples)
    assert n_ticks <= s.tuples + s.ticks_skipped + s.ticks_empty <= n_ticks + extra


@settings(max_examples=EXAMPLES * 2 // 3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stream_params, min_size=1, max_size=3), configs, st.integers(0, 2**32),
       st.lists(st.floats(0.0, 1.5), max_size=40))
def test_invariants_with_interleaved_timer_calls(streams, conf, seed, timer_calls):
    """Timer callbacks (advance) at arbitrary times between headers keep every invariant."""
    events, cfg = _build(streams, conf, seed)
    if not events:
        return
    start = events[0].arrival
    sync = Synchronizer(cfg, start)
    calls = sorted(timer_calls)
    out = []
    for e in events:
        while calls and calls[0] <= e.arrival:
            out.extend(sync.advance(calls.pop(0)))
        sync.add(e)
    out.extend(sync.advance(events[-1].arrival + cfg.max_skew))
    check_invariants(events, cfg, start, out)
    check_freshest(events, cfg, out)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(5.0, 60.0), st.floats(0.0, 0.02)), min_size=2, max_size=4),
       st.sampled_from([0.01, 0.02, 0.03, 0.05]), st.floats(0.02, 0.1), st.integers(0, 2**32))
def test_holding_for_a_fresher_header_keeps_the_contract(rates, max_skew, period, seed):
    """
    Latency spread comparable to ``max_skew``: rule 2 is often held for a fresher header.

    The held tuple is still emitted at an arrival, the tick, the deadline (or with the
    previous tuple when ``period < max_skew``), no later than
    the moment every required stream reported on the tick (or the deadline), and every
    fresh member is its stream's newest arrived header that fits the fresh set.
    """
    rnd = random.Random(seed)
    names = [f's{i}' for i in range(len(rates))]
    events = merge(*[make_stream(n, rate, 0.002, spread, 0.0, 1.5, rnd)
                     for n, (rate, spread) in zip(names, rates)])
    cfg = SyncConfig(period=period, max_skew=max_skew, max_age=0.5, streams=tuple(names))
    _synchronize_checked(events, cfg)

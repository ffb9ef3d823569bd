"""Trace generation and invariant checks shared by the synchronizer tests."""

import random
from typing import Dict, List, Optional, Sequence

from edgeserve_ros.sync import FRESH, HeaderEvent, IMPUTED, REUSED, SyncConfig, SyncTuple

EPS = 1e-9


def make_stream(name: str, rate: float, latency: float, jitter: float, start: float,
                end: float, rnd: random.Random, dead: Optional[tuple] = None,
                loss: float = 0.0, offset: float = 0.0) -> List[HeaderEvent]:
    """Headers of one periodic source; arrivals in order, stamps strictly increasing."""
    out = []
    t = start
    arrival = -1.0
    seq = 0
    while t < end:
        if not (dead and dead[0] <= t < dead[1]) and rnd.random() >= loss:
            arrival = max(arrival, t + latency + jitter * rnd.random())
            out.append(HeaderEvent(name, seq, round(t + offset, 9), round(arrival, 9)))
        seq += 1
        t += (1.0 / rate) * (0.8 + 0.4 * rnd.random())
    return out


def merge(*streams: Sequence[HeaderEvent]) -> List[HeaderEvent]:
    """Merge per-stream event lists by arrival (stable, deterministic)."""
    return sorted((e for s in streams for e in s), key=lambda e: (e.arrival, e.stream))


def check_invariants(events: Sequence[HeaderEvent], cfg: SyncConfig, start: float,
                     tuples: Sequence[SyncTuple]) -> None:
    """Assert the synchronizer specification on one run (no clock correction)."""
    by_stream: Dict[str, List[HeaderEvent]] = {n: [] for n in cfg.names}
    for e in events:
        by_stream[e.stream].append(e)
    required = {s.name: s.required for s in cfg.streams}
    emitted: Dict[str, Optional[HeaderEvent]] = {n: None for n in cfg.names}
    prev_t = prev_k = None
    for tup in tuples:
        k = round((tup.tick - start) / cfg.period)
        assert abs(start + k * cfg.period - tup.tick) < EPS, 'tick off the grid'
        assert prev_k is None or k > prev_k, 'ticks must increase, one tuple per tick'
        assert tup.tick <= tup.emit_time <= tup.tick + cfg.max_skew + EPS, 'emit window'
        assert prev_t is None or tup.emit_time >= prev_t, 'emission order'
        prev_t, prev_k = tup.emit_time, k
        assert list(tup.members) == list(cfg.names)
        assert any(m is not None for m in tup.members.values()), 'empty tuple emitted'
        fresh = [m.stamp for m in tup.members.values() if m is not None and m.state == FRESH]
        assert not fresh or max(fresh) - min(fresh) <= cfg.max_skew + EPS, 'skew'
        for name, m in tup.members.items():
            if m is None:
                assert not (cfg.policy == 'skip' and required[name]), 'skip policy'
                continue
            assert m.arrival <= tup.emit_time, 'causality'
            assert abs(m.age - (tup.tick - m.stamp)) < EPS, 'age = tick - stamp'
            assert m.age <= cfg.max_age + EPS, 'age'
            assert not (cfg.policy == 'partial' and m.state == IMPUTED), 'partial imputes'
            last = emitted[name]
            if m.state == REUSED:
                assert last is not None and last.seq == m.seq, 'reused must repeat'
            elif m.state == FRESH:
                assert last is None or m.stamp > last.stamp, 'fresh must be new'
            else:
                assert last is None or m.stamp >= last.stamp, 'imputed went back'
        _check_fresh_is_newest(by_stream, emitted, tup, cfg)
        for name, m in tup.members.items():
            if m is not None:
                emitted[name] = HeaderEvent(name, m.seq, m.stamp, m.arrival)


def _check_fresh_is_newest(by_stream, emitted, tup, cfg) -> None:
    fresh = {n: m.stamp for n, m in tup.members.items() if m is not None and m.state == FRESH}
    for name, events in by_stream.items():
        m = tup.members[name]
        floor = emitted[name].stamp if emitted[name] is not None else float('-inf')
        if m is not None:
            floor = max(floor, m.stamp)
        others = [s for n, s in fresh.items() if n != name]
        for e in events:
            if e.arrival > tup.emit_time:
                break
            if not floor < e.stamp or tup.tick - e.stamp > cfg.max_age:
                continue
            span = others + [e.stamp]
            assert max(span) - min(span) > cfg.max_skew - EPS, (
                f'freshness: {name} seq {e.seq} fits but was not used in {tup}')


def count_live_ticks(events: Sequence[HeaderEvent], cfg: SyncConfig, start: float,
                     end: float) -> List[float]:
    """Ticks at which some header with age <= max_age had arrived by the tick."""
    ticks = []
    k = 0
    while start + k * cfg.period <= end:
        tick = start + k * cfg.period
        if any(e.arrival <= tick and e.stamp <= tick and tick - e.stamp <= cfg.max_age
               for e in events):
            ticks.append(tick)
        k += 1
    return ticks


def check_freshest(events: Sequence[HeaderEvent], cfg: SyncConfig,
                   tuples: Sequence[SyncTuple]) -> None:
    """
    Assert the freshest-consistent-tuple rules (no clock correction).

    * the fresh window holds the newest required header not emitted before (within
      ``max_age``) that arrived by the emission;
    * emission is no later than the moment every required stream had delivered a header
      stamped at or after the tick (the tick is fully observed).
    """
    required = [s.name for s in cfg.streams if s.required]
    emitted: Dict[str, float] = {n: float('-inf') for n in cfg.names}
    first_after: Dict[str, List[HeaderEvent]] = {n: [] for n in cfg.names}
    for e in events:
        first_after[e.stream].append(e)
    prev_emit = float('-inf')
    for tup in tuples:
        newest = max((e.stamp for e in events if e.stream in required
                      and e.arrival <= tup.emit_time and e.stamp > emitted[e.stream]
                      and tup.tick - e.stamp <= cfg.max_age), default=None)
        fresh = [m.stamp for n, m in tup.members.items()
                 if m is not None and m.state == FRESH and n in required]
        if newest is not None and fresh:
            assert max(fresh) >= newest - EPS, f'fresh window misses stamp {newest}: {tup}'
        reported = [next((e.arrival for e in first_after[n] if e.stamp >= tup.tick), None)
                    for n in required]
        if all(r is not None for r in reported):
            bound = max([tup.tick, prev_emit] + reported)
            if bound <= tup.tick + cfg.max_skew:
                assert tup.emit_time <= bound + EPS, f'late: all reported by {bound}: {tup}'
        prev_emit = tup.emit_time
        for name, m in tup.members.items():
            if m is not None:
                emitted[name] = m.stamp

"""The synchronizer's contract, checked on a benchmark run (used by ``sync_scenarios``).

Checks what every emitted tuple must satisfy whatever the trace: one tuple per tick, in
order, on the tick grid; ``tick <= emit <= tick + max_skew``; fresh members within
``max_skew`` of each other; every member arrived by the emission (causality) and is at most
``max_age`` old at its tick; a fresh member is its stream's newest header that fits the fresh
set (no newer header of that stream had arrived and would fit); and no stall: every tick
with something within ``max_age`` yields a tuple (policy ``impute``).
"""

from __future__ import annotations

import bisect
from typing import Dict, List, Sequence

from edgeserve_ros.sync.config import SyncConfig
from edgeserve_ros.sync.types import FRESH, HeaderEvent, SyncTuple

EPS = 1e-9


def violations(events: Sequence[HeaderEvent], cfg: SyncConfig, start: float,
               tuples: Sequence[SyncTuple]) -> List[str]:
    """Return one line per violated rule (empty: the contract holds)."""
    out: List[str] = []
    by_stream: Dict[str, List[HeaderEvent]] = {n: [] for n in cfg.names}
    for e in events:
        by_stream[e.stream].append(e)
    arrivals = {n: [e.arrival for e in v] for n, v in by_stream.items()}
    stamps = {n: [e.stamp for e in v] for n, v in by_stream.items()}
    last_stamp: Dict[str, float] = {n: float('-inf') for n in cfg.names}
    prev_k, prev_t = -1, float('-inf')
    served = set()
    for tup in tuples:
        k = round((tup.tick - start) / cfg.period)
        served.add(k)
        if k <= prev_k or abs(start + k * cfg.period - tup.tick) > EPS:
            out.append(f'tick {tup.tick}: off the grid or not increasing')
        if not tup.tick - EPS <= tup.emit_time <= tup.tick + cfg.max_skew + EPS:
            out.append(f'tick {tup.tick}: emitted at {tup.emit_time}')
        if tup.emit_time < prev_t - EPS:
            out.append(f'tick {tup.tick}: emitted before the previous tuple')
        prev_k, prev_t = k, tup.emit_time
        fresh = {n: m.stamp for n, m in tup.members.items() if m and m.state == FRESH}
        if fresh and max(fresh.values()) - min(fresh.values()) > cfg.max_skew + EPS:
            out.append(f'tick {tup.tick}: fresh span over max_skew')
        for name, m in tup.members.items():
            if m is None:
                continue
            if m.arrival > tup.emit_time + EPS or m.age > cfg.max_age + EPS:
                out.append(f'tick {tup.tick}: {name} not causal or too old')
            others = [s for n, s in fresh.items() if n != name]
            floor = max(last_stamp[name], m.stamp)
            upto = bisect.bisect_right(arrivals[name], tup.emit_time + EPS)
            for e in by_stream[name][bisect.bisect_right(stamps[name], floor):upto]:
                span = others + [e.stamp]
                if (e.stamp > floor and tup.tick - e.stamp <= cfg.max_age
                        and max(span) - min(span) <= cfg.max_skew - EPS):
                    out.append(f'tick {tup.tick}: {name} seq {e.seq} fits but was not used')
                    break
        for name, m in tup.members.items():
            if m is not None:
                last_stamp[name] = m.stamp
    if cfg.policy == 'impute' and events:
        newest, j, k = float('-inf'), 0, 0
        while start + k * cfg.period <= events[-1].arrival:
            tick = start + k * cfg.period
            while j < len(events) and events[j].arrival <= tick:
                if events[j].stamp <= tick:
                    newest = max(newest, events[j].stamp)
                j += 1
            if tick - newest <= cfg.max_age and k not in served:
                out.append(f'tick {tick}: no tuple although data within max_age')
            k += 1
    return out

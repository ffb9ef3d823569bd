"""Stream synchronization scenarios: edgeserve_ros sync vs stock ROS 1 and ROS 2 ApproximateTime.

One command: ``bash scripts/dev bench sync_scenarios [--quick] [--duration S] [--seed N]``.

The same seeded header traces (3 labelled sensors, about 60 s of simulated time each) go
through three systems, offline (no ROS middleware, exactly what the replay CLI
``python -m edgeserve_ros.sync.replay`` runs):

* ``edgeserve_ros``: :class:`edgeserve_ros.sync.core.Synchronizer` (policy ``impute``,
  target period 50 ms, ``max_skew`` 30 ms, ``max_age`` 0.5 s, ``queue_size`` 10);
* ``stock-py`` / ``stock-cpp``: the Debian ROS 1 ``message_filters`` ApproximateTime
  synchronizers (Python and C++), and ``stock-ros2``: the ROS 2 Jazzy ``message_filters``
  (4.11.2, Python) ApproximateTimeSynchronizer; queue size 10, slop = ``max_skew``, run by
  :func:`edgeserve_ros.sync.baselines.run_baseline` (a matched set is emitted at the
  arrival of the header that completed it).

The edgeserve_ros output is also checked against the synchronizer's contract
(:mod:`sync_contract`), and the issue 10 table (3 x 30 Hz, period 50 ms, ``max_skew`` 20 ms)
is reproduced on a trace of its own. Everything is a replay: the figures are a function of
the traces, not of the host's speed (two runs give the same CSV).

Metrics per scenario and system: output tuples/s, % of ticks served (edgeserve: ticks
with a tuple / ticks; stock: target-period windows holding at least one matched set /
windows), % complete tuples (every stream present), staleness at emission (emission time
minus the newest and minus the oldest member stamp), skew (max - min member stamp), and
real-time accuracy (paper section 6.2.3) of a fixed rule (majority vote of the members'
per-sensor argmax) against the last known label at emission time, plus the same accuracy
sampled at every tick end with the latest prediction held (a consumer's view at the
target frequency; windows before the first prediction count as wrong).

Writes ``bench/results/sync_scenarios.{md,csv,png}``; progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import random
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as common  # noqa: E402
import sync_contract  # noqa: E402
from edgeserve_ros.models.metrics import real_time_accuracy  # noqa: E402
from edgeserve_ros.sync.baselines import BaselineUnavailable, run_baseline  # noqa: E402
from edgeserve_ros.sync.config import StreamSpec, SyncConfig  # noqa: E402
from edgeserve_ros.sync.replay import synchronize  # noqa: E402
from edgeserve_ros.sync.types import FRESH, HeaderEvent, SyncTuple  # noqa: E402

NAME = 'sync_scenarios'
PERIOD = 0.050
MAX_SKEW = 0.030
MAX_AGE = 0.5
QUEUE_SIZE = 10
N_CLASSES = 4
NOISE = 0.75          # std of the per-sensor Gaussian noise (signal amplitude 1)
BASE_LATENCY = 0.004  # every header's network + middleware latency, s
SYSTEMS = ('edgeserve_ros', 'stock-py', 'stock-cpp', 'stock-ros2')
BASELINE_OF = {'stock-py': 'approx-py', 'stock-cpp': 'approx-cpp', 'stock-ros2': 'approx-ros2'}
ISSUE_SKEW = 0.020  # issue 10's 3 x 30 Hz table
STREAMS = ('/s0', '/s1', '/s2')


@dataclass(frozen=True)
class StreamPlan:
    """How one sensor samples and how its headers arrive.

    :ivar rate: sampling rate, Hz (sample intervals vary +-5%).
    :ivar delay: constant extra arrival delay, s.
    :ivar jitter: mean of an exponential extra arrival delay, s.
    :ivar dead: ``(begin, end)`` simulated seconds with no samples, or None.
    :ivar bursts: ``(every, stall)``: every ``every`` s the stream stalls for ``stall`` s and
        then delivers the held headers at once, or None.
    """

    rate: float
    delay: float = 0.0
    jitter: float = 0.0
    dead: Optional[Tuple[float, float]] = None
    bursts: Optional[Tuple[float, float]] = None


def scenarios(duration: float) -> List[Tuple[str, str, Tuple[StreamPlan, ...]]]:
    """Return ``(key, description, plans)`` of every scenario for a trace of ``duration`` s."""
    mid = duration / 2.0
    return [
        ('equal', '3 x 30 Hz', (StreamPlan(30), StreamPlan(30), StreamPlan(30))),
        ('mixed', '30 / 20 / 10 Hz', (StreamPlan(30), StreamPlan(20), StreamPlan(10))),
        ('slow-1hz', '30 / 30 / 1 Hz', (StreamPlan(30), StreamPlan(30), StreamPlan(1))),
        ('dead-3s', f'3 x 30 Hz, /s2 dead {mid:.1f}-{mid + 3:.1f} s',
         (StreamPlan(30), StreamPlan(30), StreamPlan(30, dead=(mid, mid + 3.0)))),
        ('jitter-bursts', '3 x 30 Hz, exp. jitter mean 10 ms, 300 ms stall every 5 s',
         tuple(StreamPlan(30, jitter=0.010, bursts=(5.0, 0.3)) for _ in range(3))),
        ('late-25ms', '3 x 30 Hz, /s2 arrives 25 ms late',
         (StreamPlan(30), StreamPlan(30), StreamPlan(30, delay=0.025))),
    ]


@dataclass
class Trace:
    """A labelled multi-sensor header trace.

    :ivar events: headers in arrival order.
    :ivar values: per ``(stream, seq)`` the sensor's class scores.
    :ivar labels: ``(segment start, label)`` ground truth.
    """

    events: List[HeaderEvent]
    values: Dict[Tuple[str, int], List[float]]
    labels: List[Tuple[float, int]]


def make_labels(duration: float, rnd: random.Random) -> List[Tuple[float, int]]:
    """Return label segments of 2-5 s covering ``[0, duration + 1)``."""
    out, t, label = [], 0.0, rnd.randrange(N_CLASSES)
    while t < duration + 1.0:
        out.append((t, label))
        t += rnd.uniform(2.0, 5.0)
        label = (label + rnd.randrange(1, N_CLASSES)) % N_CLASSES
    return out


def label_at(labels: Sequence[Tuple[float, int]], starts: Sequence[float], t: float) -> int:
    """Return the label in force at time ``t`` (``starts`` are the segment starts)."""
    return labels[max(bisect.bisect_right(starts, t) - 1, 0)][1]


def make_trace(plans: Sequence[StreamPlan], duration: float, seed: int) -> Trace:
    """Generate the seeded trace of one scenario."""
    rnd = random.Random(seed)
    labels = make_labels(duration, rnd)
    starts = [t for t, _ in labels]
    events: List[HeaderEvent] = []
    values: Dict[Tuple[str, int], List[float]] = {}
    for name, plan in zip(STREAMS, plans):
        t = 0.5 + rnd.uniform(0.0, 1.0 / plan.rate)
        seq = 0
        last_arrival = 0.0
        phase = rnd.uniform(0.0, plan.bursts[0]) if plan.bursts else 0.0
        while t < duration + 0.5:
            if not (plan.dead and plan.dead[0] <= t < plan.dead[1]):
                arrival = t + BASE_LATENCY + plan.delay + rnd.uniform(0.0, 0.001)
                if plan.jitter:
                    arrival += rnd.expovariate(1.0 / plan.jitter)
                if plan.bursts:
                    every, stall = plan.bursts
                    k = math.floor((t - phase) / every)
                    stall_begin = phase + k * every
                    if stall_begin <= t < stall_begin + stall:
                        arrival = max(arrival, stall_begin + stall + BASE_LATENCY)
                arrival = max(arrival, last_arrival)  # in-order delivery per stream
                last_arrival = arrival
                events.append(HeaderEvent(name, seq, round(t, 9), round(arrival, 9)))
                truth = label_at(labels, starts, t)
                values[(name, seq)] = [(1.0 if c == truth else 0.0) + rnd.gauss(0.0, NOISE)
                                       for c in range(N_CLASSES)]
            seq += 1
            t += (1.0 / plan.rate) * rnd.uniform(0.95, 1.05)
    events.sort(key=lambda e: (e.arrival, e.stream))
    return Trace(events, values, labels)


def predict(members: Dict[str, object], values: Dict[Tuple[str, int], List[float]]) -> int:
    """Return the fixed rule's label: majority of the members' argmax, ties to the newest."""
    votes: List[Tuple[float, int]] = []
    for name, m in members.items():
        if m is None:
            continue
        scores = values[(name, m.seq)]
        votes.append((m.stamp, max(range(N_CLASSES), key=scores.__getitem__)))
    counts = Counter(v for _, v in votes)
    best = max(counts.values())
    tied = {v for v, c in counts.items() if c == best}
    return max((s, v) for s, v in votes if v in tied)[1]


def pct(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values``, NaN when empty."""
    if not values:
        return float('nan')
    return float(common.percentile(sorted(values), q))


def mean(values: Sequence[float]) -> float:
    """Return the mean, NaN when empty."""
    return sum(values) / len(values) if values else float('nan')


def evaluate(trace: Trace, tuples: Sequence[SyncTuple],
             window: Optional[Tuple[float, float]] = None) -> Dict[str, float]:
    """Compute the metrics of one system's output on ``trace``.

    Ticks (target-period windows) start at the first arrival, like the replay CLI's
    synchronizer, and end at the last arrival. With ``window`` only the ticks (and
    tuples) whose window start lies in ``[begin, end)`` count.
    """
    start = trace.events[0].arrival
    end = trace.events[-1].arrival
    n_ticks = int(math.floor((end - start) / PERIOD)) + 1
    ticks = range(n_ticks)
    if window:
        ticks = range(max(0, math.ceil((window[0] - start) / PERIOD)),
                      min(n_ticks, math.ceil((window[1] - start) / PERIOD)))
    tick_set = set(ticks)
    served = set()
    chosen = []
    for tup in tuples:
        k = int(math.floor((tup.emit_time - start) / PERIOD + 1e-9))
        if k in tick_set:
            served.add(k)
            chosen.append(tup)
    duration = len(ticks) * PERIOD
    newest, oldest, skew, fresh_skew, complete = [], [], [], [], 0
    latency, at_tick = [], 0.0
    preds: List[Tuple[float, int]] = []
    for tup in chosen:
        present = [m for m in tup.members.values() if m is not None]
        stamps = [m.stamp for m in present]
        top = max(present, key=lambda m: m.stamp)
        newest.append(tup.emit_time - top.stamp)
        latency.append(top.arrival - top.stamp)
        if tup.emit_time == tup.tick and all(m.arrival < tup.tick for m in present):
            at_tick += tup.emit_time - top.arrival  # final before its tick, held to it
        oldest.append(tup.emit_time - min(stamps))
        skew.append(max(stamps) - min(stamps))
        fresh = [m.stamp for m in tup.members.values() if m is not None and m.state == FRESH]
        fresh_skew.append(max(fresh) - min(fresh) if fresh else 0.0)
        complete += len(stamps) == len(tup.members)
        preds.append((tup.emit_time, predict(tup.members, trace.values)))
    starts = [t for t, _ in trace.labels]
    held_ok = 0
    j = 0
    current: Optional[int] = None
    ordered = sorted(preds)
    for k in ticks:
        t_end = start + (k + 1) * PERIOD
        while j < len(ordered) and ordered[j][0] < t_end:
            current = ordered[j][1]
            j += 1
        held_ok += current is not None and current == label_at(trace.labels, starts, t_end)
    return {
        'ticks': len(ticks), 'tuples': len(chosen),
        'tuples_per_s': common.ratio(len(chosen), duration),
        'served_pct': 100.0 * common.ratio(len(served), len(ticks)),
        'complete_pct': 100.0 * common.ratio(complete, len(chosen)),
        'newest_mean_ms': 1e3 * mean(newest), 'newest_p95_ms': 1e3 * pct(newest, 95),
        'newest_latency_ms': 1e3 * mean(latency),
        'tick_bound_ms': 1e3 * common.ratio(at_tick, len(chosen)),
        'oldest_mean_ms': 1e3 * mean(oldest), 'oldest_p95_ms': 1e3 * pct(oldest, 95),
        'skew_p50_ms': 1e3 * pct(skew, 50), 'skew_p95_ms': 1e3 * pct(skew, 95),
        'skew_max_ms': 1e3 * (max(skew) if skew else float('nan')),
        'fresh_skew_max_ms': 1e3 * (max(fresh_skew) if fresh_skew else float('nan')),
        'rt_acc': real_time_accuracy(preds, trace.labels) if preds else float('nan'),
        'rt_acc_held': common.ratio(held_ok, len(ticks)),
    }


def sync_config(max_skew: float = MAX_SKEW) -> SyncConfig:
    """Return the edgeserve_ros synchronizer configuration of the scenarios."""
    return SyncConfig(period=PERIOD, max_skew=max_skew, max_age=MAX_AGE, policy='impute',
                      queue_size=QUEUE_SIZE, streams=tuple(StreamSpec(s) for s in STREAMS))


def run_system(system: str, events: Sequence[HeaderEvent],
               max_skew: float = MAX_SKEW) -> Tuple[str, List[SyncTuple]]:
    """Run one system on ``events``; return ``(label of what ran, tuples)``."""
    if system == 'edgeserve_ros':
        return ('edgeserve_ros.sync.core.Synchronizer (this repository, policy impute)',
                synchronize(events, sync_config(max_skew)))
    return run_baseline(BASELINE_OF[system], events, list(STREAMS), QUEUE_SIZE, max_skew)


METRIC_COLS = ('tuples_per_s', 'served_pct', 'complete_pct', 'newest_mean_ms',
               'newest_p95_ms', 'oldest_mean_ms', 'oldest_p95_ms', 'skew_p50_ms',
               'skew_p95_ms', 'skew_max_ms', 'fresh_skew_max_ms', 'rt_acc', 'rt_acc_held',
               'newest_latency_ms', 'tick_bound_ms')


def plot(rows: List[Dict[str, object]], keys: List[str], systems: List[str]) -> str:
    """Write the grouped-bar figure; return its path."""
    plt = common.pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    width = 0.8 / max(len(systems), 1)
    panels = [('served_pct', '% of ticks served'),
              ('newest_mean_ms', 'staleness of newest member\nat emission, mean (ms)'),
              ('rt_acc_held', 'real-time accuracy\n(held, per tick)')]
    for ax, (metric, ylabel) in zip(axes, panels):
        for i, system in enumerate(systems):
            ys = [next((float(r[metric]) for r in rows
                        if r['scenario'] == k and r['system'] == system), float('nan'))
                  for k in keys]
            xs = [j + (i - (len(systems) - 1) / 2) * width for j in range(len(keys))]
            ax.bar(xs, ys, width, label=system)
        ax.set_ylabel(ylabel)
        ax.grid(axis='y', alpha=0.3)
    axes[0].set_ylim(0, 105)
    axes[0].axhline(95, color='k', lw=0.8, ls='--')
    axes[2].set_ylim(0, 1.0)
    axes[0].legend(ncol=len(systems), loc='lower left')
    axes[-1].set_xticks(range(len(keys)))
    axes[-1].set_xticklabels(keys)
    fig.suptitle(f'Stream synchronization, target period {PERIOD * 1e3:.0f} ms, '
                 f'max_skew/slop {MAX_SKEW * 1e3:.0f} ms')
    path = common.save_figure(fig, NAME)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run every scenario through every system and write the report."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='15 s traces (well under 30 s)')
    ap.add_argument('--duration', type=float, default=None,
                    help='simulated seconds per trace (default 60, 15 with --quick)')
    ap.add_argument('--seed', type=int, default=7)
    args = ap.parse_args(argv)
    duration = args.duration or (15.0 if args.quick else 60.0)
    labels: Dict[str, str] = {}
    rows: List[Dict[str, object]] = []
    dead_rows: Dict[str, Dict[str, float]] = {}
    plan_list = scenarios(duration)
    for i, (key, desc, plans) in enumerate(plan_list):
        trace = make_trace(plans, duration, args.seed * 1000 + i)
        common.progress(f'{key}: {desc}: {len(trace.events)} headers, '
                        f'{len(trace.labels)} label segments')
        for system in SYSTEMS:
            try:
                label, tuples = run_system(system, trace.events)
            except BaselineUnavailable as exc:
                common.progress(f'  {system}: unavailable: {exc}')
                labels.setdefault(system, f'not run: {exc}')
                continue
            labels.setdefault(system, label)
            m: Dict[str, object] = dict(evaluate(trace, tuples))
            if system == 'edgeserve_ros':
                bad = sync_contract.violations(trace.events, sync_config(),
                                               trace.events[0].arrival, tuples)
                m['contract_violations'] = len(bad)
                if bad:
                    common.progress(f'  contract violated ({len(bad)}x), first: {bad[0]}')
            rows.append({'scenario': key, 'system': system, **m})
            if key == 'dead-3s':
                dead = plans[2].dead
                assert dead is not None
                dead_rows[system] = evaluate(trace, tuples, (dead[0], dead[1]))
            common.progress(f'  {system:13s} {m["tuples_per_s"]:6.1f} tuples/s  served '
                            f'{m["served_pct"]:5.1f}%  newest age {m["newest_mean_ms"]:6.2f} '
                            f'ms  skew p95 {m["skew_p95_ms"]:6.1f} ms  RT acc '
                            f'{m["rt_acc"]:.3f} / held {m["rt_acc_held"]:.3f}')
    issue_rows = issue_table(duration, args.seed)
    systems = [s for s in SYSTEMS if any(r['system'] == s for r in rows)]
    keys = [k for k, _, _ in plan_list]
    headers = ['scenario', 'system', 'ticks', 'tuples'] + list(METRIC_COLS) + [
        'contract_violations']
    common.write_csv(NAME, headers, [[r.get(h, '') for h in headers] for r in rows])
    plot(rows, keys, systems)
    write_report(rows, dead_rows, labels, plan_list, duration, args.seed, issue_rows)
    common.progress(f'wrote {common.result_path(NAME, "md")}')
    return 0


LOWER_BOUND_NOTE = """
The stock synchronizers emit only at the arrival of a header that completes a set, so their
newest member is as old as the network latency (here 4 ms + U(0, 1 ms), mean 4.5 ms) and
they serve only the ticks that such arrivals fall in (5-50% in the slow and mixed
scenarios). edgeserve_ros must emit every tick within its budget `[tick, tick + max_skew]`;
it emits at an arrival whenever the budget holds one that completes the freshest set, so its
mean is the same latency plus the few ticks whose budget holds none (or a header that does
not fit). In the punctual scenarios both figures are therefore the same quantity, mean
latency, and "<=" is decided by a few hundredths of a millisecond; the target is reported
at that precision, as measured, met or not.

The *newest member's latency* column (its arrival minus its stamp) splits the age: age =
that latency + the time from the newest member's arrival to the emission. The targets
table also gives the part of the mean that comes from tuples whose set was final before
their tick (every member arrived before `T`, and nothing fresher could arrive within the
budget): the contract's `T <= emit` holds them until `T`, so their newest member is older
than its latency, at instants where the stock synchronizers emit nothing. Where that part
exceeds the gap to stock, the rest of edgeserve_ros's tuples are fresher than stock's and
the gap is the emission grid itself, not a choice the rule could make better.
"""


def issue_table(duration: float, seed: int) -> List[Dict[str, object]]:
    """Issue 10's table: 3 x 30 Hz, period 50 ms, max_skew (slop) 20 ms, its own trace."""
    plans = scenarios(duration)[0][2]
    trace = make_trace(plans, duration, seed * 1000 + 99)
    common.progress(f'issue 10 table: 3 x 30 Hz, max_skew {ISSUE_SKEW * 1e3:.0f} ms: '
                    f'{len(trace.events)} headers')
    out: List[Dict[str, object]] = []
    for system in SYSTEMS:
        try:
            _, tuples = run_system(system, trace.events, ISSUE_SKEW)
        except BaselineUnavailable:
            continue
        m: Dict[str, object] = dict(evaluate(trace, tuples))
        if system == 'edgeserve_ros':
            m['contract_violations'] = len(sync_contract.violations(
                trace.events, sync_config(ISSUE_SKEW), trace.events[0].arrival, tuples))
        out.append({'system': system, **m})
        common.progress(f'  {system:13s} {m["tuples"]} tuples, newest age '
                        f'{m["newest_mean_ms"]:.2f} / {m["newest_p95_ms"]:.2f} ms')
    return out


def freshness_targets(rows: List[Dict[str, object]]) -> List[Tuple[str, str, bool]]:
    """Per scenario: edgeserve newest-member age mean <= stock-py's, contract holding."""
    out = []
    for key in dict.fromkeys(str(r['scenario']) for r in rows):
        es = next((r for r in rows if r['scenario'] == key and r['system'] == 'edgeserve_ros'),
                  None)
        py = next((r for r in rows if r['scenario'] == key and r['system'] == 'stock-py'),
                  None)
        if es is None or py is None:
            continue
        a, b = float(es['newest_mean_ms']), float(py['newest_mean_ms'])  # type: ignore
        bad = int(es.get('contract_violations', 0))  # type: ignore
        held = float(es['tick_bound_ms'])  # type: ignore
        out.append((f'{key}: newest-member age mean <= stock-py, contract holds',
                    f'{a:.3f} vs {b:.3f} ms ({a - b:+.3f}; tuples final before their tick '
                    f'and held to it add {held:+.3f}); {bad} contract violations',
                    a <= b and bad == 0))
    return out


def write_report(rows: List[Dict[str, object]], dead_rows: Dict[str, Dict[str, float]],
                 labels: Dict[str, str], plan_list, duration: float, seed: int,
                 issue_rows: List[Dict[str, object]]) -> None:
    """Write ``bench/results/sync_scenarios.md``."""
    f = common.fmt
    table = common.md_table(
        ['scenario', 'system', 'tuples/s', '% ticks served', '% complete',
         'newest age mean / p95 (ms)', 'newest member\'s latency mean (ms)',
         'oldest age mean / p95 (ms)',
         'skew p50 / p95 / max (ms)', 'fresh-member skew max (ms)',
         'RT acc (per prediction)', 'RT acc (held, per tick)'],
        [(r['scenario'], r['system'], f(r['tuples_per_s'], 1), f(r['served_pct'], 1),
          f(r['complete_pct'], 1),
          f'{f(r["newest_mean_ms"], 2)} / {f(r["newest_p95_ms"], 1)}',
          f(r['newest_latency_ms'], 3),
          f'{f(r["oldest_mean_ms"], 1)} / {f(r["oldest_p95_ms"], 1)}',
          f'{f(r["skew_p50_ms"], 1)} / {f(r["skew_p95_ms"], 1)} / {f(r["skew_max_ms"], 1)}',
          f(r['fresh_skew_max_ms'], 1),
          f(r['rt_acc'], 3), f(r['rt_acc_held'], 3)) for r in rows])
    dead = {r['system']: r for r in rows if r['scenario'] == 'dead-3s'}
    targets = []
    es = dead.get('edgeserve_ros')
    stock = '; '.join(f'{s}: {f(dead[s]["served_pct"], 1)}%' for s in dead
                      if s != 'edgeserve_ros')
    if es is not None:
        targets.append(('one stream dead for 3 s: edgeserve_ros serves >= 95% of ticks '
                        '(whole trace)', f'{f(es["served_pct"], 1)}% (stock: {stock})',
                        es['served_pct'] >= 95.0))
    if 'edgeserve_ros' in dead_rows:
        d = dead_rows['edgeserve_ros']
        stock_d = '; '.join(f'{s}: {f(v["served_pct"], 1)}%' for s, v in dead_rows.items()
                            if s != 'edgeserve_ros')
        targets.append(('same, counting only the ticks of the 3 s outage',
                        f'{f(d["served_pct"], 1)}% (stock: {stock_d}); edgeserve '
                        f'tuples complete in the outage: {f(d["complete_pct"], 1)}%',
                        d['served_pct'] >= 95.0))
    targets += freshness_targets(rows)
    issue = common.md_table(
        ['system', 'tuples', 'newest-member age at emission, mean / p95 (ms)',
         'contract violations'],
        [(r['system'], r['tuples'], f'{f(r["newest_mean_ms"], 2)} / {f(r["newest_p95_ms"], 1)}',
          r.get('contract_violations', 'n/a (stock)')) for r in issue_rows])
    issue_text = (f'The issue\'s setting (period 50 ms, max_skew = slop = '
                  f'{ISSUE_SKEW * 1e3:.0f} ms, 3 x 30 Hz, policy impute), on its own trace '
                  f'({duration:.0f} s, seed {seed * 1000 + 99}); before this change '
                  'edgeserve_ros measured 33.1 / 55.3 ms there (stock Python 5.4 / 9.2).\n\n'
                  + issue)
    scen = common.md_table(['scenario', 'streams'], [(k, d) for k, d, _ in plan_list])
    setup = f"""
Offline replay of seeded traces ({duration:.0f} s simulated each, seed {seed}) of three
labelled sensors `/s0 /s1 /s2`: each header's arrival = stamp + {BASE_LATENCY * 1e3:.0f} ms
+ U(0, 1 ms) (+ the scenario's delay/jitter/stalls), in order per stream; sample
intervals vary +-5%. Every system sees exactly the same headers (arrival order).

* edgeserve_ros: target period {PERIOD * 1e3:.0f} ms (20 Hz), max_skew {MAX_SKEW * 1e3:.0f}
  ms, max_age {MAX_AGE} s, policy `impute`, queue_size {QUEUE_SIZE}; a tuple's emission time
  is the core's `emit_time` (tick <= emit <= tick + max_skew): the freshest consistent set,
  emitted as soon as it cannot improve (`docs/synchronizer.md`). Its output is checked
  against the contract (`bench/sync_contract.py`: grid, emission window, skew, causality,
  max_age, freshest member, no stall); *contract violations* counts what fails.
* stock: queue size {QUEUE_SIZE}, slop {MAX_SKEW * 1e3:.0f} ms; a matched set is emitted at
  the arrival of the header that completed it.

Labels: segments of U(2, 5) s, {N_CLASSES} classes; each header carries {N_CLASSES} scores =
one-hot(label at its stamp) + N(0, {NOISE}^2) noise. Prediction of a tuple = majority of
the present members' argmax (tie: the newest member's), issued at emission time (no
processing delay). *RT acc (per prediction)* = `real_time_accuracy` of
`edgeserve_ros.models.metrics` (paper section 6.2.3: prediction vs last known label at
prediction time). *RT acc (held, per tick)*: at the end of every target-period window, the
latest prediction so far vs the label then (no prediction yet = wrong) - what a consumer
polling at the target frequency sees, so unserved stretches cost accuracy.

*% ticks served*: edgeserve_ros ticks with a tuple / ticks; stock: {PERIOD * 1e3:.0f} ms
windows (same grid, from the first arrival) with at least one matched set / windows.
*% complete*: tuples with every stream present (edgeserve_ros drops a stream older than
max_age; stock sets are always complete). Staleness = emission time - newest (oldest)
member stamp; skew = max - min member stamp over all present members (for edgeserve_ros
reused/imputed members included, so it can exceed max_skew, which bounds fresh members;
*fresh-member skew* is the span of the fresh members only - every stock member is fresh).
"""
    what_ran = common.md_table(['system', 'what ran'], sorted(labels.items()))
    sections = [
        ('Setup', setup),
        ('Scenarios', scen),
        ('What ran', what_ran),
        ('Results', table),
        ('Issue 10 table: 3 x 30 Hz, max_skew 20 ms', issue_text),
        ('Targets', common.targets_table(targets)),
        ('Why "<= stock" is decided in hundredths of a millisecond', LOWER_BOUND_NOTE),
    ]
    common.write_md(NAME, 'Synchronization scenarios: edgeserve_ros vs stock ApproximateTime',
                    sections, common.machine_info({'seed': str(seed),
                                                   'trace seconds': f'{duration:.0f}'}))


if __name__ == '__main__':
    sys.exit(main())

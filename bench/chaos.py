"""Chaos: kill -9 of a queue worker, a source, the synchronizer and the shared queue (issue 7).

A parallel topology runs as processes on one host, the shape of HAR parallel: 4
``source_node`` processes (small ``array`` payloads, lazy, ``--rate`` Hz) -> ``sync_node``
(period ``1/rate``) -> ``shared_queue_node`` -> ``--workers`` ``queue_worker`` processes
(a cheap ``zoo.fixed_delay`` model, 0 ms; the workers fetch the payloads). Every
``--interval`` s the bench kills one process with SIGKILL, cycling through queue worker,
source, synchronizer and shared queue, and restarts it at once with the same command line.
It listens to the tuples, the predictions and the queue's ``~/stats`` stream.

- **% ticks served**: distinct prediction ticks / ticks of the run (``duration / period``).
- **recovery**: kill -> arrival of the first prediction whose 4 members are all fresh and
  all stamped after the kill (for a source: the restarted source is back in the tuples).
  It includes the pipeline's own latency (tick -> prediction arrival), shown apart.
- **items lost by the queue**: from every stats message of every queue process,
  ``accepted - (published + failed + dropped + queued + leased)``: items that left the
  queue in no counted way (target 0: an item a dead worker held is re-sent after the
  lease timeout and predicted once). At the end the synchronizer is stopped and the queue
  drained (queued + leased = 0), so everything the last queue process accepted is
  accounted for. Items a *killed queue* held in memory (queued + leased in its last stats)
  are lost by design (the queue is not durable); they are counted apart.
- **duplicates**: predictions of one tick received twice.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (fmt, machine_info, md_table, progress, pyplot, run_and_report, save_figure,
                     spin_in_background, targets_table, write_csv, write_md)
from _nodes import model_yaml, NodeProcs

NAME = 'chaos'
DOMAIN_ID = 23
N_SOURCES = 4
QUEUE = 'ch_queue'
TARGETS = ('worker', 'source', 'sync', 'queue')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='45 s, a kill every 10 s')
    p.add_argument('--seconds', type=float, default=None, help='kill loop length (300)')
    p.add_argument('--interval', type=float, default=None, help='seconds between kills (15)')
    p.add_argument('--rate', type=float, default=20.0, help='source and tick rate, Hz')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--targets', default=','.join(TARGETS), help='kill cycle')
    p.add_argument('--name', default=None)
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    args = p.parse_args(argv)
    args.seconds = args.seconds or (45.0 if args.quick else 300.0)
    args.interval = args.interval or (10.0 if args.quick else 15.0)
    args.name = args.name or (NAME + ('_quick' if args.quick else ''))
    return args


class Monitor:
    """Records predictions, tuples and queue stats with their arrival times."""

    def __init__(self, node: Any) -> None:
        from edgeserve_ros.msg import PayloadHeader, SyncedTuple
        from edgeserve_ros.ros.qos import HEADER_QOS, OUTPUT_QOS

        self.lock = threading.Lock()
        self.preds: List[Dict[str, Any]] = []
        self.tuples: List[float] = []
        self.stats: List[Dict[str, Any]] = []
        self.undecodable = 0
        node.create_subscription(PayloadHeader, '/ch/predictions', self._on_pred, HEADER_QOS)
        node.create_subscription(PayloadHeader, f'/{QUEUE}/stats', self._on_stats, HEADER_QOS)
        node.create_subscription(SyncedTuple, '/ch/synced', self._on_tuple, OUTPUT_QOS)

    def _json(self, msg: Any) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(bytes(msg.inline_payload))
        except ValueError:
            self.undecodable += 1
            return None

    def _on_pred(self, msg: Any) -> None:
        p = self._json(msg)
        if p is not None:
            inputs = (p.get('inputs') or {}).values()
            states = [v.get('state') for v in inputs]
            stamps = [v.get('stamp', 0.0) for v in inputs]
            with self.lock:
                self.preds.append({'t': time.time(), 'tick': p.get('tick', 0.0),
                                   'oldest': min(stamps, default=0.0),
                                   'fresh': len(states) == N_SOURCES
                                   and all(s == 'fresh' for s in states),
                                   'worker': p.get('worker', '')})

    def _on_stats(self, msg: Any) -> None:
        s = self._json(msg)
        if s is not None:
            with self.lock:
                self.stats.append({'t': time.time(), **s})

    def _on_tuple(self, msg: Any) -> None:
        with self.lock:
            self.tuples.append(time.time())


def start_nodes(args: argparse.Namespace, procs: NodeProcs, tmp: str) -> Dict[str, str]:
    """Start the topology; return kill target -> process name."""
    streams = [f'/ch/s{i}' for i in range(N_SOURCES)]
    for i, stream in enumerate(streams):
        procs.start('edgeserve_ros.dataplane.source_node', f'ch_source{i}', stream=stream,
                    pattern='array', payload_bytes=256, rate_hz=args.rate, delivery='lazy',
                    capacity_bytes=1 << 20, ttl=10.0, publish_metrics=False, seed=i)
    period = 1.0 / args.rate
    procs.start('edgeserve_ros.sync.sync_node', 'ch_sync', streams=streams, period=period,
                max_skew=period / 2, max_age=1.0, policy='impute', output_topic='/ch/synced')
    procs.start('edgeserve_ros.models.shared_queue_node', QUEUE, input='/ch/synced',
                input_kind='tuple', output_stream='/ch/predictions', lease_timeout=1.0,
                stats_period=0.5)
    model = model_yaml(os.path.join(tmp, 'cheap.yaml'), [s.rsplit('/', 1)[1] for s in streams])
    for i in range(args.workers):
        procs.start('edgeserve_ros.models.queue_worker', f'ch_worker{i}', queue=QUEUE,
                    worker_name=f'ch_worker{i}', model_file=model, max_items=4)
    return {'worker': 'ch_worker0', 'source': 'ch_source1', 'sync': 'ch_sync',
            'queue': QUEUE}


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Run the kill loop; return what was recorded."""
    import rclpy
    from rclpy.node import Node

    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    tmp = tempfile.mkdtemp(prefix='edgeserve_chaos_')
    procs = NodeProcs(args.domain_id, log_dir=tmp)
    rclpy.init()
    node = Node('chaos_monitor')
    mon = Monitor(node)
    spinner = spin_in_background(node)
    kills: List[Dict[str, Any]] = []
    cycle = [t for t in args.targets.split(',') if t]
    try:
        names = start_nodes(args, procs, tmp)
        progress(f'started {len(procs.procs)} processes, logs in {tmp}')
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline:
            with mon.lock:
                if any(p['fresh'] for p in mon.preds[-5:]):
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f'no fresh prediction within 120 s; logs in {tmp}')
        time.sleep(3.0)
        t0 = time.time()
        progress(f'topology serving; kill loop of {args.seconds:g} s, one kill every '
                 f'{args.interval:g} s ({", ".join(cycle)})')
        i = 0
        while time.time() + args.interval <= t0 + args.seconds + 1e-6:
            time.sleep(max(0.0, t0 + (i + 0.5) * args.interval - time.time()))
            target = cycle[i % len(cycle)]
            name = names[target]
            with mon.lock:
                before = dict(mon.stats[-1]) if mon.stats else {}
            t_kill = time.time()
            procs.kill9(name)
            procs.restart(name)
            kills.append({'target': target, 'process': name, 't': t_kill,
                          'queue_before': before})
            progress(f'kill -9 {name} ({target}) at t={t_kill - t0:.1f} s; restarted')
            time.sleep(max(0.0, t0 + (i + 1) * args.interval - time.time()))
            i += 1
        t_end = time.time()
        last_kill = kills[-1]['t'] if kills else t_end
        progress('kill loop over; waiting (<= 60 s) for a fresh prediction after the last kill')
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            with mon.lock:
                if any(p['fresh'] and p['tick'] > last_kill for p in mon.preds[-20:]):
                    break
            time.sleep(0.2)
        time.sleep(2.0)
        progress('stopping the synchronizer and draining the queue')
        procs.stop('ch_sync')
        drain_deadline = time.monotonic() + 30.0
        t_stop = time.time()
        while time.monotonic() < drain_deadline:
            with mon.lock:
                last = mon.stats[-1] if mon.stats else {}
            if last.get('t', 0) > t_stop + 1.5 and last.get('queued', 1) == 0 \
                    and last.get('leased', 1) == 0:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        errors = procs.error_lines()
        with mon.lock:
            rec = {'preds': list(mon.preds), 'tuples': list(mon.tuples),
                   'stats': list(mon.stats), 'undecodable': mon.undecodable}
    finally:
        procs.close()
        spinner.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return {**rec, 'kills': kills, 't0': t0, 't_end': t_end, 'errors': errors,
            'starts': dict(procs.starts), 'log_dir': tmp}


def incarnations(stats: List[Dict[str, Any]], kills: List[Dict[str, Any]]) -> List[List[Dict]]:
    """Split the queue's stats messages by queue process (a queue kill starts a new one)."""
    bounds = [k['t'] for k in kills if k['target'] == 'queue']
    out: List[List[Dict]] = [[] for _ in range(len(bounds) + 1)]
    for s in stats:
        out[sum(1 for b in bounds if s['t'] > b + 0.05)].append(s)
    return out


def analyse(args: argparse.Namespace, res: Dict[str, Any]) -> Dict[str, Any]:
    """Compute ticks served, recovery per kill, queue accounting."""
    period = 1.0 / args.rate
    t0, t_end = res['t0'], res['t_end']
    preds = res['preds']
    idx = [int(round(p['tick'] / period)) for p in preds if t0 <= p['tick'] < t_end]
    expected = int(round((t_end - t0) / period))
    served = len(set(idx))
    dup = len(idx) - served
    for k in res['kills']:
        after = [p for p in preds if p['oldest'] > k['t'] and p['fresh']]
        first = min(after, key=lambda p: p['t'], default=None)
        k['recovery_s'] = (first['t'] - k['t']) if first else float('nan')
        k['recovered'] = bool(first) and (first['t'] < k['t'] + args.interval
                                          or k is res['kills'][-1])
        window = [p['t'] for p in preds if k['t'] <= p['t'] <= k['t'] + args.interval]
        gaps = [b - a for a, b in zip([k['t']] + window, window)]
        k['longest_gap_s'] = max(gaps, default=float('nan'))
    lost_vanished = 0
    lost_with_queue = 0
    per_inc = []
    for j, inc in enumerate(incarnations(res['stats'], res['kills'])):
        if not inc:
            continue
        vanished = [s['accepted'] - (s['published'] + s['failed'] + s['dropped'] + s['queued']
                                     + s['leased']) for s in inc]
        last = inc[-1]
        final = j == len(incarnations(res['stats'], res['kills'])) - 1
        held = 0 if final else last['queued'] + last['leased']
        lost_vanished += max(vanished)
        lost_with_queue += held
        per_inc.append({'queue process': j + 1, 'accepted': last['accepted'],
                        'published': last['published'], 'failed': last['failed'],
                        'dropped': last['dropped'], 'resent': last['resent'],
                        'duplicates dropped': last['duplicates'],
                        'queued+leased at its end': last['queued'] + last['leased'],
                        'vanished (max over stats)': max(vanished),
                        'ended by': 'drain' if final else 'kill -9'})
    return {'expected': expected, 'served': served, 'dup': dup, 'per_inc': per_inc,
            'lost_vanished': lost_vanished, 'lost_with_queue': lost_with_queue}


def report(args: argparse.Namespace, res: Dict[str, Any], elapsed: float) -> None:
    """Write md, CSV and plot."""
    a = analyse(args, res)
    kills = res['kills']
    cols = ['target', 'process', 't_s', 'recovery_s', 'recovered', 'longest_gap_s']
    write_csv(args.name, cols, [[k['target'], k['process'], round(k['t'] - res['t0'], 2),
                                 k['recovery_s'], k['recovered'], k['longest_gap_s']]
                                for k in kills])
    rows = []
    for target in dict.fromkeys(k['target'] for k in kills):
        ks = [k for k in kills if k['target'] == target]
        rec = [k['recovery_s'] for k in ks if k['recovery_s'] == k['recovery_s']]
        rows.append([target, ks[0]['process'], len(ks),
                     sum(k['recovered'] for k in ks),
                     fmt(statistics.median(rec), 2) if rec else '-',
                     fmt(max(rec), 2) if rec else '-',
                     fmt(max(k['longest_gap_s'] for k in ks), 2)])
    lat = [p['t'] - p['tick'] for p in res['preds'] if res['t0'] <= p['tick'] < res['t_end']]
    last = a['per_inc'][-1] if a['per_inc'] else {}
    drained = bool(last) and last['queued+leased at its end'] == 0
    worker_kills = sum(k['target'] == 'worker' for k in kills)
    pct = 100.0 * a['served'] / a['expected'] if a['expected'] else float('nan')
    targets = [
        (f'items lost by the queue when a worker dies (vanished from every queue state, '
         f'{worker_kills} worker kills): 0', str(a['lost_vanished']), a['lost_vanished'] == 0),
        ('every item the last queue process accepted predicted once (drained: queued + '
         'leased = 0, accepted = published + failed + dropped)',
         f'accepted {last.get("accepted", "-")}, published {last.get("published", "-")}, '
         f'failed {last.get("failed", "-")}, dropped {last.get("dropped", "-")}',
         drained and last['accepted'] == last['published'] + last['failed'] + last['dropped']),
        ('no tick predicted twice', f'{a["dup"]} duplicates', a['dup'] == 0),
        ('every kill recovered (fresh 4-member prediction) before the next kill (the last '
         'one: within 60 s)',
         f'{sum(k["recovered"] for k in kills)} of {len(kills)}',
         all(k['recovered'] for k in kills)),
        ('% ticks served (informative)', f'{fmt(pct, 1)} % ({a["served"]} of '
                                         f'{a["expected"]})', None),
    ]
    inc_cols = list(a['per_inc'][0]) if a['per_inc'] else []
    errs = [ln for v in res['errors'].values() for ln in v]
    sections = [
        ('Targets', targets_table(targets)),
        ('Per kill target', md_table(
            ['target', 'process', 'kills', 'recovered', 'recovery median s', 'recovery max s',
             'longest prediction gap s'], rows)),
        ('Queue accounting per queue process', md_table(
            inc_cols, [[r[c] for c in inc_cols] for r in a['per_inc']])),
        ('Other counts', md_table(['item', 'value'], [
            ('items a killed queue held in memory (queued + leased in its last stats): lost '
             'by design', a['lost_with_queue']),
            ('pipeline latency, tick -> prediction arrival, median / p90 s',
             f'{fmt(statistics.median(lat), 3)} / {fmt(sorted(lat)[int(0.9 * len(lat))], 3)}'
             if lat else '-'),
            ('tuples received by the bench', len(res['tuples'])),
            ('predictions received by the bench', len(res['preds'])),
            ('process starts', ', '.join(f'{k} {v}' for k, v in res['starts'].items())),
            ('ERROR/FATAL/traceback log lines (killed processes print none)', len(errs)),
        ])),
        ('Error lines (first 10)', '\n'.join(f'- `{ln[:200]}`' for ln in errs[:10])
         or 'none'),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\n{args.seconds:g} s kill loop, a kill every {args.interval:g} s, '
           f'{args.rate:g} Hz, {args.workers} workers, lease timeout 1 s. Run took '
           f'{elapsed:.0f} s. Measured beside other agents\' work on 2 shared cores.'),
    ]
    write_md(args.name, f'Chaos: kill -9 in a loop ({args.seconds:g} s)', sections,
             machine_info())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    t0 = res['t0']
    ts = [p['t'] - t0 for p in res['preds']]
    if ts:
        bins = [x * 0.5 for x in range(int(min(ts) * 2), int(max(ts) * 2) + 2)]
        ax.hist(ts, bins=bins, color='tab:blue', alpha=0.7,
                label='predictions per 0.5 s')
        fresh = [p['t'] - t0 for p in res['preds'] if p['fresh']]
        ax.hist(fresh, bins=bins, color='tab:green', alpha=0.6,
                label='of which all 4 members fresh')
    colors = dict(zip(TARGETS, ('tab:orange', 'tab:red', 'tab:purple', 'black')))
    for k in kills:
        ax.axvline(k['t'] - t0, color=colors.get(k['target'], 'gray'), ls='--', lw=1)
    for target, c in colors.items():
        ax.plot([], [], color=c, ls='--', label=f'kill -9 {target}')
    ax.set_xlabel('s since the kill loop started')
    ax.set_ylabel('count')
    ax.set_title(f'{fmt(100.0 * a["served"] / max(a["expected"], 1), 1)} % ticks served')
    ax.legend(fontsize=7, ncol=3)
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the chaos benchmark."""
    args = parse_args(argv)
    progress(f'{args.name}: {args.seconds:g} s kill loop on domain {args.domain_id}')
    return run_and_report(args, run, report)


if __name__ == '__main__':
    sys.exit(main())

"""Soak: 4 sources x 100 Hz through sync_node and a model_node for 30 minutes (issue 7).

Four ``source_node`` processes publish small ``array`` payloads lazily (``--payload-bytes``,
256 B) at ``--rate`` (100 Hz) each; one ``sync_node`` synchronizes the four header streams
every ``1/rate`` s and fetches every member's payload (``fetch_payloads``, shared memory:
one host); one ``model_node`` runs a cheap model (``zoo.fixed_delay``, 0 ms) on every
tuple. This process listens to the tuples, the predictions and ``SourceStats``.

Every ``--sample`` (10) s it records each process's resident memory (VmRSS) and the errors
of the window: ERROR/FATAL/traceback lines in the node logs, failed fetches (members the
sync node could not fetch, ``SourceStats.fetch_failed``), missing ticks (gaps in the tuple
``tick`` index), predictions lost (gaps in the prediction stream's seqs) and processes that
died. RSS growth of a process = last sample / first sample after ``--warmup`` - 1.

The payload rings are 512 KiB (``capacity_bytes``) so that every ring has wrapped before
the warm-up ends: a ring is one fixed buffer written front to back, so its pages become
resident as it first fills, which is a bounded start-up cost, not a leak.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (fmt, machine_info, md_table, MIB, progress, pyplot, run_and_report,
                     save_figure, spin_in_background, targets_table, write_csv, write_md)
from _nodes import model_yaml, NodeProcs

MODEL_LINE = re.compile(r'inputs (\d+), predictions (\d+), errors (\d+).*'
                        r'end-to-end p50 ([\d.na]+) ms')
NAME = 'soak'
DOMAIN_ID = 21
N_SOURCES = 4


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='1 minute, 30 s warm-up')
    p.add_argument('--minutes', type=float, default=None, help='duration (default 30)')
    p.add_argument('--warmup', type=float, default=None,
                   help='seconds excluded from the RSS growth (default 180, quick 30)')
    p.add_argument('--rate', type=float, default=100.0, help='Hz per source and of the sync')
    p.add_argument('--payload-bytes', type=int, default=256)
    p.add_argument('--capacity', type=int, default=512 * 1024, help='ring bytes per source')
    p.add_argument('--sample', type=float, default=10.0, help='seconds between samples')
    p.add_argument('--name', default=None, help='base name of the result files')
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    args = p.parse_args(argv)
    if args.minutes is None:
        args.minutes = 1.0 if args.quick else 30.0
    if args.warmup is None:
        args.warmup = 30.0 if args.minutes <= 2 else 180.0
    if args.name is None:
        args.name = NAME + ('_quick' if args.minutes < 30 else '')
    return args


class Monitor:
    """Counts tuples, missing ticks, unfetched members, predictions; keeps SourceStats."""

    def __init__(self, node: Any, synced: str, predictions: str) -> None:
        from edgeserve_ros.msg import PayloadHeader, SourceStats, SyncedTuple
        from edgeserve_ros.ros.qos import HEADER_QOS, METRICS_QOS, OUTPUT_QOS

        self.lock = threading.Lock()
        self.total = dict.fromkeys(('tuples', 'missing_ticks', 'unfetched', 'imputed',
                                    'absent', 'predictions', 'predictions_lost'), 0)
        self.window = dict(self.total)
        self.stats: Dict[str, Any] = {}
        self._last_tick: Optional[int] = None
        self._last_pred: Optional[int] = None
        node.create_subscription(SyncedTuple, synced, self._on_tuple, OUTPUT_QOS)
        node.create_subscription(PayloadHeader, predictions, self._on_pred, HEADER_QOS)
        node.create_subscription(SourceStats, '/edgeserve/source_stats', self._on_stats,
                                 METRICS_QOS)

    def _add(self, key: str, n: int = 1) -> None:
        self.total[key] += n
        self.window[key] += n

    def _on_tuple(self, msg: Any) -> None:
        from edgeserve_ros.msg import SyncMember

        with self.lock:
            self._add('tuples')
            if self._last_tick is not None and msg.tick > self._last_tick + 1:
                self._add('missing_ticks', msg.tick - self._last_tick - 1)
            self._last_tick = max(msg.tick, self._last_tick or 0)
            for m in msg.members:
                if not m.present:
                    self._add('absent')
                elif not m.payload_fetched:
                    self._add('unfetched')
                if m.state == SyncMember.STATE_IMPUTED:
                    self._add('imputed')

    def _on_pred(self, msg: Any) -> None:
        with self.lock:
            self._add('predictions')
            if self._last_pred is not None and msg.seq > self._last_pred + 1:
                self._add('predictions_lost', msg.seq - self._last_pred - 1)
            self._last_pred = max(msg.seq, self._last_pred or 0)

    def _on_stats(self, msg: Any) -> None:
        with self.lock:
            self.stats[msg.stream] = msg

    def take_window(self) -> Dict[str, int]:
        """Return the counts since the last call and start a new window."""
        with self.lock:
            out = dict(self.window)
            self.window = dict.fromkeys(self.window, 0)
            return out

    def source_totals(self) -> Dict[str, int]:
        """Return published/fetch_ok/fetch_failed/evicted/expired summed over the sources."""
        with self.lock:
            keys = ('published', 'fetch_requests', 'fetch_ok', 'fetch_failed', 'evicted',
                    'expired')
            return {k: sum(int(getattr(s, k)) for s in self.stats.values()) for k in keys}


def start_nodes(args: argparse.Namespace, procs: NodeProcs, tmp: str) -> List[str]:
    """Start the sources, the sync node and the model node; return the stream names."""
    streams = [f'/soak/s{i}' for i in range(N_SOURCES)]
    for i, stream in enumerate(streams):
        procs.start('edgeserve_ros.dataplane.source_node', f'soak_source{i}', stream=stream,
                    pattern='array', payload_bytes=args.payload_bytes, rate_hz=args.rate,
                    delivery='lazy', capacity_bytes=args.capacity, ttl=10.0,
                    publish_metrics=False, stats_period=1.0, seed=i)
    period = 1.0 / args.rate
    procs.start('edgeserve_ros.sync.sync_node', 'soak_sync', streams=streams, period=period,
                max_skew=period, max_age=1.0, policy='impute', fetch_payloads=True,
                fetch_timeout=2.0, output_topic='/soak/synced')
    model = model_yaml(os.path.join(tmp, 'cheap.yaml'), [s.rsplit('/', 1)[1] for s in streams])
    procs.start('edgeserve_ros.models.model_node', 'soak_model', model_file=model,
                input='/soak/synced', output_stream='/soak/predictions', log_period=10.0)
    return streams


def model_progress(procs: NodeProcs) -> Dict[str, float]:
    """Return the model node's last progress line: inputs, predictions, errors, e2e p50."""
    found = MODEL_LINE.findall(procs.log('soak_model'))
    if not found:
        return {'model_inputs': 0, 'model_predictions': 0, 'model_errors': 0,
                'model_e2e_p50_ms': float('nan')}
    inputs, preds, errors, e2e = found[-1]
    return {'model_inputs': int(inputs), 'model_predictions': int(preds),
            'model_errors': int(errors), 'model_e2e_p50_ms': float(e2e)}


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Run the soak; return the samples and totals."""
    import rclpy
    from rclpy.node import Node

    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    tmp = tempfile.mkdtemp(prefix='edgeserve_soak_')
    procs = NodeProcs(args.domain_id, log_dir=tmp)
    rclpy.init()
    node = Node('soak_monitor')
    monitor = Monitor(node, '/soak/synced', '/soak/predictions')
    spinner = spin_in_background(node)
    samples: List[Dict[str, Any]] = []
    try:
        start_nodes(args, procs, tmp)
        progress(f'started {len(procs.procs)} processes, logs in {tmp}')
        t0 = time.monotonic()
        deadline = t0 + 90.0
        while monitor.total['predictions'] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        progress(f'first prediction after {time.monotonic() - t0:.1f} s; soaking '
                 f'{args.minutes:g} min')
        monitor.take_window()
        t_start = time.monotonic()
        end = t_start + args.minutes * 60.0
        errors_before = 0
        while time.monotonic() < end:
            time.sleep(max(0.0, min(args.sample, end - time.monotonic())))
            t = time.monotonic() - t_start
            window = monitor.take_window()
            errs = procs.error_lines()
            n_err = sum(len(v) for v in errs.values())
            src = monitor.source_totals()
            sample = {'t_s': round(t, 1), **window, 'error_lines': n_err - errors_before,
                      'dead': len(procs.dead()), **model_progress(procs),
                      **{f'src_{k}': v for k, v in src.items()},
                      **{f'rss_{k}': v for k, v in procs.rss().items()}}
            errors_before = n_err
            samples.append(sample)
            rss_mb = sum(v for k, v in sample.items() if k.startswith('rss_')) / MIB
            progress(f't={t:6.0f} s: {window["tuples"]} tuples, {window["predictions"]} '
                     f'predictions, missing ticks {window["missing_ticks"]}, unfetched '
                     f'{window["unfetched"]}, error lines {sample["error_lines"]}, dead '
                     f'{sample["dead"]}, fetch_failed {src["fetch_failed"]}, model inputs '
                     f'{sample["model_inputs"]} (e2e p50 {sample["model_e2e_p50_ms"]:.0f} ms), '
                     f'RSS total {rss_mb:.1f} MB')
        errs = procs.error_lines()
        dead = procs.dead()
        time.sleep(11.0)  # one more model progress line (log_period 10 s)
        totals = dict(monitor.total)
        totals.update(model_progress(procs))
        totals['last_tick'] = monitor._last_tick or 0
        src = monitor.source_totals()
    finally:
        procs.close()
        spinner.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return {'samples': samples, 'totals': totals, 'source': src, 'errors': errs,
            'dead': dead, 'names': list(procs.procs), 'log_dir': tmp}


def growth(samples: List[Dict[str, Any]], key: str, warmup: float) -> tuple:
    """Return (baseline MB, last MB, max MB, growth) of ``key`` after the warm-up."""
    after = [s[key] for s in samples if s['t_s'] >= warmup and s.get(key)]
    if not after:
        return (float('nan'),) * 4
    base, last = after[0], after[-1]
    return base / MIB, last / MIB, max(after) / MIB, last / base - 1.0


def report(args: argparse.Namespace, res: Dict[str, Any], elapsed: float) -> None:
    """Write md, CSV and the RSS curve."""
    samples, totals, src = res['samples'], res['totals'], res['source']
    names = res['names']
    cols = sorted({k for s in samples for k in s}, key=lambda k: (k.startswith('rss_'), k))
    cols.remove('t_s')
    cols = ['t_s'] + cols
    write_csv(args.name, cols, [[s.get(c, '') for c in cols] for s in samples])
    g = {n: growth(samples, f'rss_{n}', args.warmup) for n in names}
    rows = [[n, fmt(b, 1), fmt(last, 1), fmt(mx, 1), f'{fmt(100 * gr, 2)} %']
            for n, (b, last, mx, gr) in g.items()]
    worst = max((gr for *_, gr in g.values() if gr == gr), default=float('nan'))
    err_lines = sum(len(v) for v in res['errors'].values())
    expected_ticks = totals['tuples'] + totals['missing_ticks']
    error_total = (err_lines + totals['missing_ticks'] + totals['unfetched']
                   + src.get('fetch_failed', 0) + totals['predictions_lost'] + len(res['dead']))
    targets = [
        (f'RSS growth < 5 % after the {args.warmup:g} s warm-up (worst process)',
         f'{fmt(100 * worst, 2)} %', worst < 0.05),
        ('0 errors (error lines + missing ticks + failed fetches + lost predictions + '
         'dead processes)', str(error_total), error_total == 0),
    ]
    counts = md_table(['count', 'value'], [
        ('tuples received', totals['tuples']),
        ('missing ticks (gaps in tick index)', totals['missing_ticks']),
        ('members present but not fetched', totals['unfetched']),
        ('members absent', totals['absent']),
        ('members imputed (late stream)', totals['imputed']),
        ('predictions received', totals['predictions']),
        ('predictions lost (seq gaps)', totals['predictions_lost']),
        ('source items published (SourceStats, 4 sources)', src.get('published', 0)),
        ('source fetch entries OK / failed', f'{src.get("fetch_ok", 0)} / '
                                             f'{src.get("fetch_failed", 0)}'),
        ('source evicted / expired', f'{src.get("evicted", 0)} / {src.get("expired", 0)}'),
        ('ERROR/FATAL/traceback log lines', err_lines),
        ('processes that died', f'{len(res["dead"])} {res["dead"] or ""}'),
        ('ticks expected (received + missing)', expected_ticks),
        ('tick index of the last tuple (ticks the sync node emitted - 1)', totals['last_tick']),
        ('model inputs / predictions / errors (its last progress line)',
         f'{totals["model_inputs"]} / {totals["model_predictions"]} / '
         f'{totals["model_errors"]}'),
        ('model end-to-end p50 of its last 10 s, ms', fmt(totals['model_e2e_p50_ms'], 1)),
    ])
    shown = [ln for v in res['errors'].values() for ln in v][:10]
    sections = [
        ('Targets', targets_table(targets)),
        ('RSS per process (MB)', md_table(
            ['process', f'at {args.warmup:g} s', 'last', 'max after warm-up', 'growth'], rows)),
        ('Counts', counts),
        ('Error lines (first 10)', '\n'.join(f'- `{ln[:200]}`' for ln in shown) or 'none'),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\n{args.minutes:g} min at {args.rate:g} Hz, {args.payload_bytes} B payloads, '
           f'samples every {args.sample:g} s, warm-up {args.warmup:g} s. Run took '
           f'{elapsed:.0f} s. Measured beside other agents\' work on 2 shared cores.'),
    ]
    write_md(args.name, f'Soak: {N_SOURCES} sources x {args.rate:g} Hz, sync + model, '
             f'{args.minutes:g} min', sections, machine_info())
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    ts = [s['t_s'] / 60 for s in samples]
    for n in names:
        ax.plot(ts, [s.get(f'rss_{n}', 0) / MIB for s in samples], label=n)
    ax.axvline(args.warmup / 60, color='gray', ls='--', label='end of warm-up')
    ax.set_ylabel('RSS, MB')
    ax.set_title(f'Soak: RSS per process (worst growth after warm-up {fmt(100 * worst, 2)} %)')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    per_s = [s['tuples'] / args.sample for s in samples]
    ax2.plot(ts, per_s, label='tuples/s')
    ax2.plot(ts, [s['predictions'] / args.sample for s in samples], label='predictions/s')
    ax2.plot(ts, [s['missing_ticks'] + s['unfetched'] + s['error_lines'] for s in samples],
             label='errors in window')
    ax2.set_xlabel('minutes')
    ax2.set_ylabel('per second / count')
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    save_figure(fig, args.name)
    if statistics and samples:
        progress(f'worst RSS growth {fmt(100 * worst, 2)} %, errors {error_total}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the soak benchmark."""
    args = parse_args(argv)
    progress(f'{args.name}: {N_SOURCES} sources x {args.rate:g} Hz for {args.minutes:g} min '
             f'on domain {args.domain_id}')
    return run_and_report(args, run, report)


if __name__ == '__main__':
    sys.exit(main())

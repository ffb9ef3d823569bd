"""Host cut-off: a source host isolated for 3 s, then restored, under sync_node (issue 7).

Three emulated hosts (network namespaces of one :class:`NetnsLab`; Fast DDS over UDPv4):
``src0`` and ``src1`` each run a ``source_node`` (256 B ``array`` payloads, lazy, at
``--rate`` Hz, no shared memory: payloads cross the link through the fetch service);
``leader`` runs ``sync_node`` (period ``1/rate``, ``policy impute``, ``fetch_payloads``,
``max_age`` 10 s) and a listener child of this bench. ``--cuts`` times, the bench takes
``src0``'s switch port down for ``--cut`` (3) s (:meth:`NetnsLab.isolate`), then up again.

Measured per cut, from the tuples the listener receives (one wall clock: one machine):

- during the cut the synchronizer keeps emitting, with ``src0``'s member *imputed*
  (last-known-good) and ``src1``'s fresh;
- **recovery** = tick of the first tuple after the restore whose ``src0`` member is fresh
  again - restore time, in periods (target <= 2);
- **no fetch hangs**: every tick is published within the fetcher's limit (timeout x
  attempts + 1 s) of its emit time, and every present member has its payload or an
  explicit failure (counted from the sync node's log).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (child_exit, emit, fmt, JsonChild, machine_info, md_table, progress, pyplot,
                     read_commands, run_and_report, save_figure, self_argv, spin_in_background,
                     targets_table, write_csv, write_md)
from _nodes import NodeProcs

NAME = 'host_cutoff'
DOMAIN_ID = 24
STREAMS = ('/hc/s0', '/hc/s1')
FETCH_TIMEOUT = 0.5
FETCH_ATTEMPTS = 3  # PayloadFetcher default: 2 retries


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='2 cuts')
    p.add_argument('--cuts', type=int, default=None, help='number of cuts (5)')
    p.add_argument('--cut', type=float, default=3.0, help='seconds a cut lasts')
    p.add_argument('--gap', type=float, default=8.0, help='seconds between cuts')
    p.add_argument('--rate', type=float, default=10.0, help='source and tick rate, Hz')
    p.add_argument('--lifespan', type=float, default=0.5,
                   help='header_lifespan of the sources, s (0: unbounded writer history)')
    p.add_argument('--name', default=None)
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    p.add_argument('--role', default='main', choices=('main', 'listener'),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.cuts = args.cuts or (2 if args.quick else 5)
    args.name = args.name or (NAME + ('_quick' if args.quick else ''))
    return args


def run_listener(args: argparse.Namespace) -> int:
    """Child on the leader host: one JSON line per tuple."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.msg import SyncedTuple
    from edgeserve_ros.ros.qos import OUTPUT_QOS
    from edgeserve_ros.ros.timeconv import to_sec

    rclpy.init()
    node = Node('hc_listener')

    def on_tuple(msg: SyncedTuple) -> None:
        emit('tuple', arrival=time.time(), tick=to_sec(msg.header.stamp),
             emit_time=to_sec(msg.emit_time),
             states=[int(m.state) for m in msg.members],
             seqs=[int(m.seq) for m in msg.members],
             present=[bool(m.present) for m in msg.members],
             fetched=[bool(m.payload_fetched) for m in msg.members])

    node.create_subscription(SyncedTuple, '/hc/synced', on_tuple, OUTPUT_QOS)
    spin_in_background(node)
    emit('ready')
    for _ in read_commands():
        pass
    return child_exit()


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Build the lab, cut and restore, collect the tuples."""
    from edgeserve_ros.topology.netns import DEFAULT_ENV, NetnsLab

    tmp = tempfile.mkdtemp(prefix='edgeserve_cutoff_')
    procs = NodeProcs(args.domain_id, log_dir=tmp, env=DEFAULT_ENV)
    tuples: List[Dict[str, Any]] = []
    cuts: List[Dict[str, float]] = []
    period = 1.0 / args.rate
    with NetnsLab(['leader', 'src0', 'src1'], domain_id=args.domain_id) as lab:
        listener = None
        try:
            def prefix(host: str) -> List[str]:
                return ['ip', 'netns', 'exec', lab.netns(host)]

            for i, stream in enumerate(STREAMS):
                procs.start('edgeserve_ros.dataplane.source_node', f'hc_source{i}',
                            prefix=prefix(f'src{i}'), stream=stream, pattern='array',
                            payload_bytes=256, rate_hz=args.rate, delivery='lazy',
                            use_shm=False, ttl=30.0, publish_metrics=False, seed=i,
                            header_lifespan=args.lifespan)
            procs.start('edgeserve_ros.sync.sync_node', 'hc_sync', prefix=prefix('leader'),
                        streams=list(STREAMS), period=period, max_skew=period / 2,
                        max_age=10.0, policy='impute', fetch_payloads=True,
                        fetch_timeout=FETCH_TIMEOUT, output_topic='/hc/synced')
            child = lab.popen('leader', self_argv(__file__, 'listener', [
                '--domain-id', args.domain_id]), env=dict(ROS_LOG_DIR=tmp),
                stdin=__import__('subprocess').PIPE, stdout=__import__('subprocess').PIPE,
                text=True, bufsize=1)
            listener = JsonChild(proc=child, name='listener')
            listener.expect('ready', 60.0)

            def drain(until: float) -> None:
                while time.time() < until:
                    msg = listener.get(max(0.0, min(0.2, until - time.time())))
                    if msg and msg.get('kind') == 'tuple':
                        tuples.append(msg)

            deadline = time.time() + 90.0
            while time.time() < deadline:
                drain(time.time() + 0.5)
                if any(all(t['fetched']) and all(s == 1 for s in t['states'])
                       for t in tuples[-5:]):
                    break
            else:
                raise RuntimeError(f'no fresh fetched tuple in 90 s; logs in {tmp}')
            progress(f'lab up, tuples fresh; {args.cuts} cut(s) of {args.cut:g} s of src0')
            drain(time.time() + 3.0)
            for c in range(args.cuts):
                t_cut = time.time()
                lab.isolate('src0')
                drain(t_cut + args.cut)
                t_restore = time.time()
                lab.restore('src0')
                cuts.append({'cut': t_cut, 'restore': t_restore})
                drain(t_restore + args.gap)
                progress(f'cut {c + 1}/{args.cuts}: isolated {t_restore - t_cut:.2f} s, '
                         f'{len(tuples)} tuples so far')
            errors = procs.error_lines()
            warnings = sum(procs.count_lines('hc_sync', w) for w in
                           ('TIMEOUT', 'UNREACHABLE', 'EXPIRED', 'UNKNOWN'))
        finally:
            if listener is not None:
                listener.stop(3.0)
            procs.close()
    return {'tuples': tuples, 'cuts': cuts, 'period': period, 'errors': errors,
            'fetch_warnings': warnings, 'log_dir': tmp}


def analyse(args: argparse.Namespace, res: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Return one row per cut."""
    period, tuples = res['period'], res['tuples']
    rows = []
    for i, c in enumerate(res['cuts']):
        during = [t for t in tuples if c['cut'] + period <= t['tick'] <= c['restore']]
        imputed = sum(1 for t in during if t['states'][0] == 3)
        fresh1 = sum(1 for t in during if t['states'][1] == 1)
        first = next((t for t in sorted(tuples, key=lambda t: t['tick'])
                      if t['tick'] > c['restore'] and t['states'][0] == 1), None)
        rec = (first['tick'] - c['restore']) if first else float('nan')
        span = [t for t in tuples if c['cut'] <= t['tick'] <= c['restore'] + args.gap]
        late = max((t['arrival'] - t['emit_time'] for t in span), default=float('nan'))
        ticks = {int(round(t['tick'] / period)) for t in span}
        expected = int(round((c['restore'] + args.gap - c['cut']) / period))
        rows.append({'cut': i + 1, 'isolated_s': c['restore'] - c['cut'],
                     'ticks_during': len(during), 'src0_imputed': imputed,
                     'src1_fresh': fresh1, 'recovery_s': rec, 'recovery_periods': rec / period,
                     'max_publish_delay_s': late, 'ticks_seen': len(ticks),
                     'ticks_expected': expected})
    return rows


def report(args: argparse.Namespace, res: Dict[str, Any], elapsed: float) -> None:
    """Write md, CSV and plot."""
    rows = analyse(args, res)
    cols = list(rows[0]) if rows else []
    write_csv(args.name, cols, [[r[c] for c in cols] for r in rows])
    t_ref = res['cuts'][0]['cut'] - 3.0 if res['cuts'] else 0.0
    write_csv(args.name + '_tuples', ['tick_s', 'arrival_s', 'src0_state', 'src0_seq',
                                      'src0_fetched', 'src1_state', 'src1_seq', 'src1_fetched'],
              [[round(t['tick'] - t_ref, 3), round(t['arrival'] - t_ref, 3), t['states'][0],
                t['seqs'][0], t['fetched'][0], t['states'][1], t['seqs'][1], t['fetched'][1]]
               for t in res['tuples'] if t['tick'] >= t_ref])
    write_csv(args.name + '_cuts', ['cut_s', 'restore_s'],
              [[round(c['cut'] - t_ref, 3), round(c['restore'] - t_ref, 3)]
               for c in res['cuts']])
    limit = FETCH_TIMEOUT * FETCH_ATTEMPTS + 1.0
    periods = [r['recovery_periods'] for r in rows]
    delay = max((r['max_publish_delay_s'] for r in rows), default=float('nan'))
    unfetched = sum(1 for t in res['tuples'] for p, f in zip(t['present'], t['fetched'])
                    if p and not f)
    targets = [
        ('the synchronizer imputes src0 during every cut (src1 stays fresh)',
         ', '.join(f'{r["src0_imputed"]}/{r["ticks_during"]}' for r in rows),
         bool(rows) and all(r['src0_imputed'] > 0 for r in rows)),
        ('fresh src0 tuples again within 2 periods of the restore (every cut)',
         'periods: ' + ', '.join(fmt(p, 1) for p in periods),
         bool(rows) and all(p == p and p <= 2.0 for p in periods)),
        (f'no fetch hangs: every tuple published within {limit:.1f} s of its emit time',
         f'max {fmt(delay, 3)} s', delay == delay and delay <= limit),
        ('every tick emitted during cut + recovery window',
         ', '.join(f'{r["ticks_seen"]}/{r["ticks_expected"]}' for r in rows), None),
    ]
    fmt_rows = [[r['cut'], fmt(r['isolated_s'], 2), r['ticks_during'], r['src0_imputed'],
                 r['src1_fresh'], fmt(r['recovery_s'], 3), fmt(r['recovery_periods'], 1),
                 fmt(r['max_publish_delay_s'], 3)] for r in rows]
    sections = [
        ('Targets', targets_table(targets)),
        ('Per cut', md_table(['cut', 'isolated s', 'ticks during', 'src0 imputed',
                              'src1 fresh', 'recovery s', 'recovery periods',
                              'max publish delay s'], fmt_rows)),
        ('Other counts', md_table(['item', 'value'], [
            ('tuples received', len(res['tuples'])),
            ('present members without payload', unfetched),
            ('sync node fetch-failure warnings (TIMEOUT/UNREACHABLE/EXPIRED/UNKNOWN)',
             res['fetch_warnings']),
            ('ERROR/FATAL/traceback log lines', sum(len(v) for v in res['errors'].values())),
            ('recovery median, periods', fmt(statistics.median(periods), 1) if periods
             else '-'),
        ])),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\n{args.cuts} cut(s) of {args.cut:g} s, {args.gap:g} s apart, {args.rate:g} Hz '
           f'(period {res["period"]:g} s), sync fetch_timeout {FETCH_TIMEOUT} s, sources\' '
           f'header_lifespan {args.lifespan:g} s. Run took '
           f'{elapsed:.0f} s. Measured beside other agents\' work on 2 shared cores.'),
    ]
    write_md(args.name, 'Host cut-off under sync_node (netns, DDS over UDPv4)', sections,
             machine_info({'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4 (NetnsLab children)'}))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    t_ref = res['cuts'][0]['cut'] - 3.0 if res['cuts'] else 0.0
    tt = [t for t in res['tuples'] if t['tick'] >= t_ref]
    names = {0: 'missing', 1: 'fresh', 2: 'reused', 3: 'imputed'}
    ax.scatter([t['tick'] - t_ref for t in tt], [t['states'][0] for t in tt], s=6,
               label='src0 member state')
    ax.scatter([t['tick'] - t_ref for t in tt], [t['states'][1] + 0.15 for t in tt], s=6,
               label='src1 member state (+0.15)')
    for c in res['cuts']:
        ax.axvspan(c['cut'] - t_ref, c['restore'] - t_ref, color='red', alpha=0.15)
    ax.set_yticks(list(names), [names[k] for k in names])
    ax.set_xlabel('s (red: src0 isolated)')
    ax.set_title('Member state per tick through host cut-offs')
    ax.legend(fontsize=8)
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (or the listener child)."""
    args = parse_args(argv)
    if args.role == 'listener':
        return run_listener(args)
    progress(f'{args.name}: {args.cuts} cut(s) of {args.cut:g} s at {args.rate:g} Hz, '
             f'domain {args.domain_id}')
    return run_and_report(args, run, report)


if __name__ == '__main__':
    sys.exit(main())

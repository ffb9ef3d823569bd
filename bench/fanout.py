"""Shared-queue fan-out to 1..4 consumers, eager vs lazy (paper section 6.3.4, Fig. 6).

One producer (this process) publishes the same 512 KB message ``--count`` (100) times back
to back; 1 to 4 consumer processes on the same host share the work. The split is a simple
deterministic one: consumer ``i`` of ``n`` processes message ``idx`` when
``idx % n == i``, so every message is processed by exactly one consumer. "Processed" means
the consumer holds the payload, verified against the header's XXH3-64 checksum; no computation.

- eager: the payload is inline in every header, so every consumer receives all messages
  (DDS delivers a topic to all subscribers) and drops the ones that are not its own;
- lazy: headers go to all consumers, each fetches only its own payloads through the
  producer's ``FetchPayload`` service;
- lazy+shm: the same, reading the payload from the producer's shared memory ring.

Total working duration (paper section 6.2.1) = last consumer holds its last payload -
producer began sending the first message. Speedup = duration with 1 consumer / duration
with n consumers, per mode (the median of the repeats is the 1.0x baseline).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (child_env, child_exit, emit, fmt, JsonChild, KIB, machine_info, md_table,
                     progress, pyplot, ratio, read_commands, result_path, save_figure,
                     self_argv, spin_in_background, targets_table, wait_until, write_csv, write_md)

NAME = 'fanout'
DOMAIN_ID = 153
MODES = ('eager', 'lazy', 'lazy+shm')
TOPICS = {'eager': '/fo/eager', 'lazy': '/fo/lazy', 'lazy+shm': '/fo/lazy_shm'}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='~30 s version (1 repeat, 1-3 consumers)')
    p.add_argument('--count', type=int, default=100, help='messages per run (default 100)')
    p.add_argument('--size', type=int, default=512 * KIB, help='message bytes (512 KB)')
    p.add_argument('--consumers', default=None, help='consumer counts (default 1,2,3,4)')
    p.add_argument('--repeats', type=int, default=None, help='runs per cell (default 3)')
    p.add_argument('--service-depth', type=int, default=0,
                   help='override the KEEP_LAST depth of the fetch service and its clients '
                        '(default 0: the data plane\'s own, rclpy services default 10)')
    p.add_argument('--name', default=NAME, help='base name of the result files')
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    p.add_argument('--role', default='main', choices=('main', 'consumer'),
                   help=argparse.SUPPRESS)
    p.add_argument('--topic', default='', help=argparse.SUPPRESS)
    p.add_argument('--index', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--of', type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument('--use-shm', type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.consumers is None:
        args.consumers = '1,2,3' if args.quick else '1,2,3,4'
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    return args


# -- consumer process -------------------------------------------------------------------

def run_consumer(args: argparse.Namespace) -> int:
    """Process the messages of this consumer's share; report when all are held."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.dataplane.fetcher import PayloadFetcher
    from edgeserve_ros.msg import PayloadHeader
    from edgeserve_ros.ros.qos import HEADER_QOS

    rclpy.init()
    node = Node(f'fo_consumer_{args.index}')
    if args.service_depth:
        _override_qos(node, 'create_client', _depth_qos(args.service_depth))
    fetcher = PayloadFetcher(node, timeout=10.0, retries=2, max_in_flight=8,
                             use_shm=bool(args.use_shm))
    lock = threading.Lock()
    ep: Dict[str, Any] = {}
    mine = sum(1 for i in range(args.count) if i % args.of == args.index)

    def on_payload(fut: Any, tag: str) -> None:
        held = time.time()
        result = fut.result()
        with lock:
            if ep.get('tag') != tag:
                return
            if not result.ok:
                ep['failed'] += 1
                emit('error', status=result.status.name, reason=result.reason)
            else:
                ep['held'] += 1
                ep['last'] = max(ep['last'], held)
            if ep['held'] + ep['failed'] == mine:
                emit('done', tag=tag, last_held=ep['last'], held=ep['held'],
                     failed=ep['failed'], headers=ep['headers'], paths=fetcher.counts)

    def on_header(header: PayloadHeader) -> None:
        if header.header.frame_id == 'warmup':
            fut = fetcher.fetch_async(header)
            fut.add_done_callback(lambda f: emit('warm', ok=f.result().ok))
            return
        tag, _, idx = header.header.frame_id.partition(':')
        with lock:
            if ep.get('tag') != tag:
                return
            ep['headers'] += 1
        if int(idx) % args.of != args.index:
            return  # another consumer's share: skipped without touching the payload
        fut = fetcher.fetch_async(header)
        fut.add_done_callback(lambda f, t=tag: on_payload(f, t))

    node.create_subscription(PayloadHeader, args.topic, on_header, HEADER_QOS)
    spin_in_background(node)
    emit('ready')
    for cmd in read_commands():
        if cmd.get('cmd') == 'episode':
            with lock:
                ep.clear()
                ep.update(tag=cmd['tag'], held=0, failed=0, last=0.0, headers=0)
            emit('armed', tag=cmd['tag'])
    return child_exit()


# -- producer (main) --------------------------------------------------------------------

def measure(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Run every (consumers, mode, repeat) cell; return one row per run."""
    import numpy as np
    import rclpy
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    from edgeserve_ros.dataplane import source as source_mod
    from edgeserve_ros.dataplane.delivery import DeliveryMode
    from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
    from edgeserve_ros.ros.timeconv import to_sec

    # Eager KEEP_LAST must hold the whole back-to-back run, or unacknowledged messages of a
    # slow consumer are overwritten and never arrive.
    source_mod.EAGER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST,
                                      depth=max(args.count + 10, source_mod.EAGER_QOS.depth),
                                      reliability=ReliabilityPolicy.RELIABLE,
                                      durability=DurabilityPolicy.VOLATILE)
    rclpy.init()
    node = Node('fo_producer')
    if args.service_depth:
        _override_qos(node, 'create_service', _depth_qos(args.service_depth))
    source = PayloadSource(node)
    capacity = (args.count + 32) * (args.size + 4096)
    opts: Dict[str, Any] = {
        'eager': StreamOptions(capacity_bytes=capacity, ttl=600.0,
                               delivery=DeliveryMode.EAGER, use_shm=False),
        'lazy': StreamOptions(capacity_bytes=capacity, ttl=600.0,
                              delivery=DeliveryMode.LAZY, use_shm=False),
        'lazy+shm': StreamOptions(capacity_bytes=capacity, ttl=600.0,
                                  delivery=DeliveryMode.LAZY, use_shm=True)}
    spinner = spin_in_background(node)
    payload = np.random.default_rng(0).integers(0, 256, args.size, dtype=np.uint8).tobytes()
    counts = [int(c) for c in args.consumers.split(',')]
    rows: List[Dict[str, Any]] = []
    try:
        for n in counts:
            for mode in MODES:
                # A fresh topic per cell: consumers of earlier cells may linger in discovery.
                stream = source.add_stream(f'{TOPICS[mode]}_{n}', opts[mode])
                rows += _cell(args, node, stream, mode, n, payload, to_sec)
                stream.close()
    finally:
        spinner.close()
        source.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return rows


def _depth_qos(depth: int) -> Any:
    """Return a reliable volatile KEEP_LAST ``depth`` profile."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def _override_qos(node: Any, method: str, qos: Any) -> None:
    """Make ``node.<method>`` (create_service/create_client) default to ``qos``."""
    create = getattr(node, method)

    def wrapped(*a: Any, **kw: Any) -> Any:
        kw.setdefault('qos_profile', qos)
        return create(*a, **kw)

    setattr(node, method, wrapped)


def _cell(args: argparse.Namespace, node: Any, stream: Any, mode: str, n: int,
          payload: bytes, to_sec: Any) -> List[Dict[str, Any]]:
    """Start ``n`` consumers of ``mode``; run ``args.repeats`` episodes; stop them."""
    topic = stream.name
    env = child_env(args.domain_id)
    consumers = [JsonChild(self_argv(__file__, 'consumer', [
        '--topic', topic, '--index', i, '--of', n, '--count', args.count,
        '--use-shm', int(mode == 'lazy+shm'), '--service-depth', args.service_depth]),
        env=env, name=f'consumer {i}/{n}')
        for i in range(n)]
    rows = []
    try:
        for c in consumers:
            c.expect('ready', 60.0)
        if not wait_until(lambda: node.count_subscribers(topic) >= n, 30.0):
            raise RuntimeError(f'{n} consumers not matched on {topic}')
        warm = set()
        for _ in range(100):
            stream.publish(b'warm', frame_id='warmup')
            for i, c in enumerate(consumers):
                msg = c.get(0.3 / n)
                if msg and msg.get('kind') == 'warm' and msg.get('ok'):
                    warm.add(i)
            if len(warm) == n:
                break
        else:
            raise RuntimeError('warm-up never completed')
        time.sleep(0.3)
        for rep in range(args.repeats):
            tag = f'{mode}n{n}r{rep}'
            for c in consumers:
                c.send(cmd='episode', tag=tag)
            for c in consumers:
                c.expect('armed', 10.0)
            first = None
            for idx in range(args.count):
                header = stream.publish(payload, frame_id=f'{tag}:{idx}')
                if first is None:
                    first = to_sec(header.send_stamp)
            published = time.time()
            done = [c.expect('done', 180.0) for c in consumers]
            last = max(d['last_held'] for d in done)
            failed = sum(d['failed'] for d in done)
            row = {'mode': mode, 'consumers': n, 'repeat': rep, 'duration_s': last - first,
                   'publish_s': published - first, 'held': sum(d['held'] for d in done),
                   'failed': failed}
            rows.append(row)
            progress(f'{mode:>8} x{n} run {rep + 1}/{args.repeats}: '
                     f'{row["duration_s"]:.3f} s ({row["held"]} held, {failed} failed; '
                     f'publishing took {row["publish_s"]:.3f} s)')
            time.sleep(0.3)
    finally:
        for c in consumers:
            c.stop(5.0)
    return rows


# -- report -----------------------------------------------------------------------------

def report(rows: List[Dict[str, Any]], args: argparse.Namespace, elapsed: float) -> None:
    """Write md, CSV and plot."""
    counts = [int(c) for c in args.consumers.split(',')]
    cols = ['mode', 'consumers', 'repeat', 'duration_s', 'publish_s', 'held', 'failed']
    write_csv(args.name, cols, [[r[c] for c in cols] for r in rows])
    dur = {(m, n): [r['duration_s'] for r in rows if r['mode'] == m and r['consumers'] == n]
           for m in MODES for n in counts}
    med = {key: statistics.median(v) if v else float('nan') for key, v in dur.items()}
    base = counts[0]
    speed = {}
    for m in MODES:
        for n in counts:
            vals = [ratio(med[(m, base)], d) for d in dur[(m, n)]]
            speed[(m, n)] = (ratio(med[(m, base)], med[(m, n)]),
                             min(vals) if vals else float('nan'),
                             max(vals) if vals else float('nan'))
    table = md_table(
        ['consumers'] + [f'{m} s (median; min-max)' for m in MODES]
        + [f'{m} speedup' for m in MODES],
        [[n] + [f'{fmt(med[(m, n)])} ({fmt(min(dur[(m, n)], default=float("nan")))}-'
                f'{fmt(max(dur[(m, n)], default=float("nan")))})' for m in MODES]
         + [f'{fmt(speed[(m, n)][0], 2)}x' for m in MODES] for n in counts])
    top = counts[-1]
    ratio_lazy_eager = {n: ratio(med[('eager', n)], med[('lazy', n)]) for n in counts}
    failed = sum(r['failed'] for r in rows)
    targets = [
        (f'lazy scales out: speedup at {top} consumers > 1.0x (paper Fig. 6: lazy scales, '
         f'eager does not)', f'{fmt(speed[("lazy", top)][0], 2)}x', speed[('lazy', top)][0] > 1),
        (f'lazy speedup at {top} consumers > eager speedup',
         f'lazy {fmt(speed[("lazy", top)][0], 2)}x vs eager {fmt(speed[("eager", top)][0], 2)}x',
         speed[('lazy', top)][0] > speed[('eager', top)][0]),
        ('every message processed exactly once, none failed', f'{failed} failed',
         failed == 0),
    ]
    findings = (
        '- eager duration / lazy duration per consumer count: '
        + ', '.join(f'{n}: {fmt(ratio_lazy_eager[n], 2)}x' for n in counts) + '.\n'
        + f'- Machine has {os.cpu_count()} cores shared by the producer and all consumers, '
          f'so with more than {max((os.cpu_count() or 2) - 1, 1)} consumers they compete for '
          f'CPU; the speedup ceiling is set by the cores, not only by the data path.')
    sections = [
        ('Targets', targets_table(targets)),
        ('Total working duration and speedup', table),
        ('Findings (computed from this run)', findings),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\n{args.count} messages of {args.size} bytes per run, {args.repeats} run(s) '
           f'per cell; consumer processes stay up across the repeats of a cell and are '
           f'warmed up (one tiny message fetched each) before timing. Eager QoS: the data '
           f'plane\'s reliable `EAGER_QOS` with KEEP_LAST depth raised by the benchmark to '
           f'{args.count + 10} so a back-to-back run is never overwritten; consumer '
           f'subscriptions `HEADER_QOS` (reliable KEEP_LAST 200). Fetchers: '
           f'`PayloadFetcher(timeout=10, retries=2, max_in_flight=8)`. Fetch service QoS: '
           + (f'KEEP_LAST depth {args.service_depth} on the service and the clients '
              f'(benchmark override `--service-depth`)'
              if args.service_depth else 'the data plane\'s own `FETCH_QOS` (reliable KEEP_LAST '
              '64)')
           + '. Fast DDS profile: see the machine table (`config/fastdds.xml`: 50 ms writer '
             'heartbeats; with the 3 s default, lost reply fragments stalled the lazy '
             'service path for 2-3 s with 2+ consumers, 0.10x at 4)'
           + f'. Run took {elapsed:.0f} s.'),
    ]
    write_md(args.name, 'Fan-out to a shared queue, eager vs lazy (paper Fig. 6)', sections,
             machine_info())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for m, marker in zip(MODES, 'osD'):
        ys = [speed[(m, n)][0] for n in counts]
        line, = ax.plot(counts, ys, marker=marker, label=m)
        ax.fill_between(counts, [speed[(m, n)][1] for n in counts],
                        [speed[(m, n)][2] for n in counts], alpha=0.15,
                        color=line.get_color())
    ax.plot(counts, [n / base for n in counts], '--', color='gray', label='linear')
    ax.set_xlabel('consumers')
    ax.set_ylabel(f'speedup vs {base} consumer (band: min-max of runs)')
    ax.set_title(f'{args.count} x {args.size // KIB} KB messages, shared queue')
    ax.set_xticks(counts)
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (or a child role)."""
    args = parse_args(argv)
    if args.role == 'consumer':
        return run_consumer(args)
    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    start = time.monotonic()
    progress(f'{NAME}: {args.count} x {args.size} B, consumers {args.consumers}, '
             f'modes {", ".join(MODES)}, {args.repeats} repeat(s)')
    rows = measure(args)
    report(rows, args, time.monotonic() - start)
    progress(f'wrote {result_path(args.name, "md")}, .csv, .png')
    return 0


if __name__ == '__main__':
    sys.exit(main())

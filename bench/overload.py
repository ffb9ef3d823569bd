"""Overload: a source at 10x the rate its consumer fetches, for 60 s (issue 7).

One ``source_node`` publishes ``--payload-bytes`` (64 KiB) items lazily at ``--rate``
(100 Hz) into a ring of ``--capacity`` bytes (32 MiB) with a long TTL (600 s), so old items
leave the ring by eviction, not expiry; its fetch service is the only path (``use_shm``
false). This process is the consumer: it queues every header and fetches the oldest one
every ``10 / rate`` s (10 Hz: a FIFO consumer ten times slower than its source), and once
a second it also fetches the newest header (a fresh probe, which the ring still holds).

A fetch is *late* when the consumer had already received the header ``K + 20`` seqs newer
than the one it asks for (``K`` = items the ring holds: capacity / aligned slot size), so
the item must have been evicted: it must be answered EXPIRED. A fetch is *on time* when
the newest header received is fewer than ``K - 20`` seqs ahead: it must be answered OK.
Every fetch future must complete within the fetcher's limit (timeout x attempts + 1 s):
no hang. A reference ``source_node`` with the same payloads and a one-item ring runs
beside it; the ring's memory is the source's RSS minus the reference's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Sequence

from _common import (fmt, machine_info, md_table, MIB, progress, pyplot, run_and_report,
                     save_figure, spin_in_background, targets_table, write_csv, write_md)
from _nodes import NodeProcs, rss_bytes

NAME = 'overload'
DOMAIN_ID = 22
TOPIC = '/ov/cam'
REF_TOPIC = '/ov/ref'
SLOT_HEADER = 32
ALIGN = 64
MARGIN = 20


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='20 s, 8 MiB ring')
    p.add_argument('--seconds', type=float, default=None, help='overload duration (60)')
    p.add_argument('--rate', type=float, default=100.0, help='source rate, Hz')
    p.add_argument('--ratio', type=float, default=10.0, help='source rate / consumer rate')
    p.add_argument('--payload-bytes', type=int, default=64 * 1024)
    p.add_argument('--capacity', type=int, default=None, help='ring bytes (32 MiB)')
    p.add_argument('--fetch-timeout', type=float, default=2.0)
    p.add_argument('--retries', type=int, default=1)
    p.add_argument('--name', default=None)
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    args = p.parse_args(argv)
    args.seconds = args.seconds or (20.0 if args.quick else 60.0)
    args.capacity = args.capacity or ((8 if args.quick else 32) * MIB)
    args.name = args.name or (NAME + ('_quick' if args.quick else ''))
    return args


class Consumer:
    """Queues headers; fetches the oldest at the consumer rate and the newest once a second."""

    def __init__(self, node: Any, fetcher: Any, ring_items: int, period: float) -> None:
        from edgeserve_ros.msg import PayloadHeader, SourceStats
        from edgeserve_ros.ros.qos import HEADER_QOS, METRICS_QOS

        self.fetcher = fetcher
        self.ring_items = ring_items
        self.lock = threading.Lock()
        self.backlog: Deque[Any] = deque()
        self.newest: Optional[Any] = None
        self.headers = 0
        self.fetches: List[Dict[str, Any]] = []
        self.stats: Dict[str, Any] = {}
        self.active = False
        # fetches start on the node's executor, as in a consumer node (fetch_async is not
        # called from a second thread: see the report on PayloadFetcher)
        node.create_timer(period, lambda: self.active and self.fetch('fifo'))
        node.create_timer(1.0, lambda: self.active and self.fetch('probe'))
        node.create_subscription(PayloadHeader, TOPIC, self._on_header, HEADER_QOS)
        node.create_subscription(SourceStats, '/edgeserve/source_stats', self._on_stats,
                                 METRICS_QOS)

    def _on_header(self, header: Any) -> None:
        with self.lock:
            self.headers += 1
            self.backlog.append(header)
            if self.newest is None or header.seq > self.newest.seq:
                self.newest = header

    def _on_stats(self, msg: Any) -> None:
        with self.lock:
            self.stats[msg.stream] = msg

    def fetch(self, kind: str) -> None:
        """Fetch the oldest queued header (``fifo``) or the newest one (``probe``)."""
        with self.lock:
            if self.newest is None or (kind == 'fifo' and not self.backlog):
                return
            header = self.backlog.popleft() if kind == 'fifo' else self.newest
            ahead = self.newest.seq - header.seq
        if ahead >= self.ring_items + MARGIN:
            klass = 'late'
        elif ahead < self.ring_items - MARGIN:
            klass = 'on time'
        else:
            klass = 'boundary'
        rec = {'kind': kind, 'seq': header.seq, 'ahead': ahead, 'class': klass,
               'sent': time.monotonic(), 'done': None, 'status': None}
        with self.lock:
            self.fetches.append(rec)
        future = self.fetcher.fetch_async(header)
        future.add_done_callback(lambda f, r=rec: self._done(r, f.result()))

    def _done(self, rec: Dict[str, Any], result: Any) -> None:
        with self.lock:
            rec['done'] = time.monotonic()
            rec['status'] = result.status.name


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Start the sources, consume, sample RSS; return the records."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.dataplane.fetcher import PayloadFetcher

    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    slot = -(-(SLOT_HEADER + args.payload_bytes) // ALIGN) * ALIGN
    ring_items = args.capacity // slot
    tmp = tempfile.mkdtemp(prefix='edgeserve_overload_')
    procs = NodeProcs(args.domain_id, log_dir=tmp)
    rclpy.init()
    node = Node('overload_consumer')
    fetcher = PayloadFetcher(node, timeout=args.fetch_timeout, retries=args.retries,
                             use_shm=False)
    period = args.ratio / args.rate
    consumer = Consumer(node, fetcher, ring_items, period)
    spinner = spin_in_background(node)
    limit = args.fetch_timeout * (args.retries + 1) + 1.0
    rss: List[Dict[str, float]] = []
    common = dict(pattern='bytes', payload_bytes=args.payload_bytes, rate_hz=args.rate,
                  delivery='lazy', ttl=600.0, use_shm=False, publish_metrics=False,
                  stats_period=0.5)
    try:
        procs.start('edgeserve_ros.dataplane.source_node', 'ov_source', stream=TOPIC,
                    capacity_bytes=args.capacity, **common)
        procs.start('edgeserve_ros.dataplane.source_node', 'ov_ref', stream=REF_TOPIC,
                    capacity_bytes=2 * slot, **common)
        started = time.monotonic()
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.5):
                rss.append({'t_s': time.monotonic() - started,
                            'source': rss_bytes(procs.procs['ov_source'].pid),
                            'reference': rss_bytes(procs.procs['ov_ref'].pid)})

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        deadline = time.monotonic() + 60.0
        while consumer.headers == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if consumer.headers == 0:
            raise RuntimeError(f'no header from the source in 60 s; logs in {tmp}')
        progress(f'source up; ring holds {ring_items} items of {slot} B; overloading '
                 f'{args.seconds:g} s at {args.rate:g} Hz vs {args.rate / args.ratio:g} Hz')
        t0 = time.monotonic()
        consumer.active = True
        while (now := time.monotonic()) < t0 + args.seconds:
            time.sleep(min(10.0, t0 + args.seconds - now))
            r = rss[-1] if rss else {'source': 0, 'reference': 0}
            with consumer.lock:
                done = sum(1 for f in consumer.fetches if f['done'])
                n = len(consumer.fetches)
            progress(f't={time.monotonic() - t0:4.0f} s: {consumer.headers} headers, {done}/{n}'
                     f' fetches answered, source RSS {r["source"] / MIB:.1f} MB (reference '
                     f'{r["reference"] / MIB:.1f} MB)')
        consumer.active = False
        t_overload = (t0 - started, time.monotonic() - started)
        progress('overload over; waiting for the fetches still in flight')
        end = time.monotonic() + limit + 1.0
        while time.monotonic() < end:
            with consumer.lock:
                if all(f['done'] for f in consumer.fetches):
                    break
            time.sleep(0.05)
        time.sleep(1.5)  # two more SourceStats messages
        with consumer.lock:
            fetches = [dict(f) for f in consumer.fetches]
            stats = consumer.stats.get(TOPIC)
            headers = consumer.headers
        errors = procs.error_lines()
        dead = procs.dead()
        sampling.set()
        sampler.join()
    finally:
        procs.close()
        fetcher.close()
        spinner.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return {'fetches': fetches, 'rss': rss, 't_overload': t_overload, 'stats': stats,
            'headers': headers, 'ring_items': ring_items, 'slot': slot, 'limit': limit,
            'errors': errors, 'dead': dead}


def report(args: argparse.Namespace, res: Dict[str, Any], elapsed: float) -> None:
    """Write md, CSV and plot."""
    fetches, rss, st = res['fetches'], res['rss'], res['stats']
    cols = ['kind', 'seq', 'ahead', 'class', 'status', 'latency_s']
    for f in fetches:
        f['latency_s'] = (f['done'] - f['sent']) if f['done'] else float('nan')
    write_csv(args.name, cols, [[f[c] for c in cols] for f in fetches])
    write_csv(args.name + '_rss', ['t_s', 'source_bytes', 'reference_bytes'],
              [[round(r['t_s'], 2), r['source'], r['reference']] for r in rss])
    classes = ('on time', 'boundary', 'late')
    statuses = sorted({str(f['status']) for f in fetches})
    table = md_table(['fetch', 'class'] + statuses + ['total'], [
        [kind, c] + [sum(1 for f in fetches if f['kind'] == kind and f['class'] == c
                         and str(f['status']) == s) for s in statuses]
        + [sum(1 for f in fetches if f['kind'] == kind and f['class'] == c)]
        for kind in ('fifo', 'probe') for c in classes])
    late = [f for f in fetches if f['class'] == 'late']
    on_time = [f for f in fetches if f['class'] == 'on time']
    hung = [f for f in fetches if f['done'] is None]
    lat = [f['latency_s'] for f in fetches if f['done']]
    over = [x for x in lat if x > res['limit']]
    # both processes started: the reference (a source with a 1-item ring) has reached its
    # own plateau, so the difference is the ring (before that it is start-up skew)
    ref_final = rss[-1]['reference'] if rss else 0
    steady = [r for r in rss if r['reference'] >= 0.98 * ref_final]
    extra = [r['source'] - r['reference'] for r in steady]
    startup = max((r['source'] - r['reference'] for r in rss), default=float('nan'))
    fill_t = next((r['t_s'] for r in rss if r['source'] - r['reference']
                   >= 0.9 * args.capacity), float('nan'))
    worst_extra = max(extra, default=float('nan'))
    after_fill = [r['source'] for r in rss if r['t_s'] >= fill_t + 2.0]
    plateau = (max(after_fill) - after_fill[0]) if after_fill else float('nan')
    budget = 1.1 * args.capacity
    published = int(st.published) if st else 0
    accounted = (int(st.evicted) + int(st.expired) + int(st.stored_items)) if st else -1
    answered = len(fetches) - len(hung)
    targets = [
        (f'source RSS - reference RSS within the ring budget + 10 % ({budget / MIB:.1f} MB)',
         f'max {fmt(worst_extra / MIB, 1)} MB', worst_extra <= budget),
        ('evictions counted: SourceStats evicted > 0 and published = evicted + expired + '
         'stored', f'published {published}, evicted {st.evicted if st else "-"}, expired '
                   f'{st.expired if st else "-"}, stored {st.stored_items if st else "-"}',
         bool(st) and int(st.evicted) > 0 and published == accounted),
        ('every late fetch answered EXPIRED', f'{sum(f["status"] == "EXPIRED" for f in late)}'
         f' of {len(late)}', bool(late) and all(f['status'] == 'EXPIRED' for f in late)),
        ('every on-time fetch answered OK',
         f'{sum(f["status"] == "OK" for f in on_time)} of {len(on_time)}',
         bool(on_time) and all(f['status'] == 'OK' for f in on_time)),
        (f'never a hang: every fetch future completed within {res["limit"]:.1f} s',
         f'{answered} of {len(fetches)} completed, {len(over)} over the limit, max '
         f'{fmt(max(lat, default=float("nan")), 3)} s', not hung and not over),
        ('source answers account for every requested entry (SourceStats fetch_ok + '
         'fetch_failed = fetches)',
         f'{st.fetch_ok if st else "-"} + {st.fetch_failed if st else "-"} vs {len(fetches)}',
         bool(st) and int(st.fetch_ok) + int(st.fetch_failed) == len(fetches)),
    ]
    sections = [
        ('Targets', targets_table(targets)),
        ('Fetch answers by class', table),
        ('Memory', md_table(['item', 'value'], [
            ('ring budget (capacity_bytes)', f'{args.capacity / MIB:.1f} MB'),
            ('items the ring holds (K)', res['ring_items']),
            ('ring full (RSS delta >= 90 % of budget) after',
             f'{fmt(fill_t, 1)} s after the sources started'),
            ('consumer fetching from / to', f'{fmt(res["t_overload"][0], 1)} / '
                                            f'{fmt(res["t_overload"][1], 1)} s'),
            ('max source RSS - reference RSS (reference at >= 98 % of its final RSS)',
             f'{fmt(worst_extra / MIB, 1)} MB'),
            ('max of the same over every sample, start-up included',
             f'{fmt(startup / MIB, 1)} MB'),
            ('source RSS growth from 2 s after the fill to the end',
             f'{fmt(plateau / MIB, 2)} MB'),
            ('source / reference RSS at the end',
             f'{fmt(rss[-1]["source"] / MIB, 1)} / {fmt(rss[-1]["reference"] / MIB, 1)} MB'
             if rss else '-'),
        ])),
        ('Other counts', md_table(['item', 'value'], [
            ('headers received by the consumer', res['headers']),
            ('source rate achieved (published / seconds since start)',
             f'{fmt(published / res["t_overload"][1], 1)} Hz' if st else '-'),
            ('fetches (FIFO + probes)', len(fetches)),
            ('SourceStats fetch_requests / fetch_ok / fetch_failed',
             f'{st.fetch_requests} / {st.fetch_ok} / {st.fetch_failed}' if st else '-'),
            ('ERROR log lines / dead processes',
             f'{sum(len(v) for v in res["errors"].values())} / {len(res["dead"])}'),
        ])),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\n{args.seconds:g} s at {args.rate:g} Hz (consumer {args.rate / args.ratio:g}'
           f' Hz), payloads {args.payload_bytes} B, fetcher timeout {args.fetch_timeout} s x '
           f'{args.retries + 1} attempts. Run took {elapsed:.0f} s. Measured beside other '
           f'agents\' work on 2 shared cores.'),
    ]
    write_md(args.name, f'Overload: source {args.ratio:g}x faster than its consumer, '
             f'{args.seconds:g} s', sections, machine_info())
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 7))
    ax.plot([r['t_s'] for r in rss], [r['source'] / MIB for r in rss], label='source')
    ax.plot([r['t_s'] for r in rss], [r['reference'] / MIB for r in rss],
            label='reference (1-item ring)')
    if rss:
        ax.axhline(rss[0]['reference'] / MIB + budget / MIB, color='red', ls='--',
                   label='reference + ring budget + 10 %')
    ax.axvspan(*res['t_overload'], color='orange', alpha=0.1, label='consumer fetching')
    ax.set_xlabel('s since the sources started')
    ax.set_ylabel('RSS, MB')
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.set_title('Source memory under 10x overload')
    for status in statuses:
        pts = [(f['sent'] - fetches[0]['sent'], f['latency_s']) for f in fetches
               if str(f['status']) == status and f['done']]
        ax2.scatter([p[0] for p in pts], [p[1] for p in pts], s=8, label=status)
    ax2.axhline(res['limit'], color='red', ls='--', label='future limit')
    ax2.set_yscale('log')
    ax2.set_xlabel('s (request sent)')
    ax2.set_ylabel('answer latency, s')
    ax2.legend(fontsize=8)
    ax2.grid(True, alpha=0.3)
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the overload benchmark."""
    args = parse_args(argv)
    progress(f'{args.name}: {args.payload_bytes} B at {args.rate:g} Hz, consumer 1/{args.ratio:g}'
             f', ring {args.capacity / MIB:g} MB, {args.seconds:g} s, domain {args.domain_id}')
    return run_and_report(args, run, report)


if __name__ == '__main__':
    sys.exit(main())

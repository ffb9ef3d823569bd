"""Data skipping over a shaped link, eager vs lazy (paper section 6.3.6, Fig. 7).

Two emulated hosts (network namespaces of one :class:`NetnsLab`, Fast DDS over UDPv4 on a
veth/bridge link shaped with ``tc tbf`` to ``--rate`` Mbit/s in both directions). The
source host publishes a burst of ``--frames`` frames as fast as it can; the consumer host
needs 1 in k of them (k = 1, 2, 5, 10) and skips the rest.

Which frames a consumer needs: frame ``i`` (0-based) is needed when ``(i + 1) % k == 0``,
i.e. the last frame of every group of k, like a target prediction frequency that always
uses the latest frame (paper section 5.2). The last frame of the burst is therefore needed
for every k, so both modes must deliver up to the end of the burst.

- eager: every header carries its frame, so all frames cross the link even when skipped;
- lazy: headers are tiny; the consumer fetches only the frames it needs through the
  source's ``FetchPayload`` service (the shared-memory path is impossible across hosts).

Total working duration (paper section 6.2.1) = consumer holds the last needed verified
payload - producer began sending the first frame (one wall clock: both namespaces are on
one machine). ``link MB`` is what the source host's interface sent during the episode.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (child_exit, emit, fmt, JsonChild, machine_info, md_table, MIB,
                     progress, pyplot, save_figure,
                     ratio, read_commands, result_path, self_argv, size_label, spin_in_background,
                     targets_table, wait_until, write_csv, write_md)

NAME = 'data_skipping'
DOMAIN_ID = 152
TOPIC = '/ds/cam'
KS = (1, 2, 5, 10)
MODES = ('eager', 'lazy')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true',
                   help='~30 s version: 10 frames of 512 KB (pattern bytes)')
    p.add_argument('--frames', type=int, default=10, help='frames per burst (default 10)')
    p.add_argument('--pattern', choices=('image', 'bytes'), default=None,
                   help='image: 1920x1080 bgr8 (6 MB, default); bytes: --payload-bytes')
    p.add_argument('--payload-bytes', type=int, default=None,
                   help='frame size for pattern bytes (quick: 512 KB)')
    p.add_argument('--rate', type=float, default=20.0, help='link rate, Mbit/s')
    p.add_argument('--ks', default=','.join(map(str, KS)), help='values of k (1 in k used)')
    p.add_argument('--name', default=NAME, help='base name of the result files')
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    p.add_argument('--role', default='main', choices=('main', 'source', 'consumer'),
                   help=argparse.SUPPRESS)
    p.add_argument('--mode', choices=MODES, default='lazy', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.pattern is None:
        args.pattern = 'bytes' if args.quick else 'image'
    if args.payload_bytes is None:
        args.payload_bytes = 512 * 1024 if args.quick else MIB
    return args


# -- source host ------------------------------------------------------------------------

def run_source(args: argparse.Namespace) -> int:
    """Publish bursts of frames on command; report the send times."""
    import rclpy
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    from edgeserve_ros.dataplane import source as source_mod
    from edgeserve_ros.dataplane.delivery import DeliveryMode
    from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
    from edgeserve_ros.dataplane.synthetic import synthetic_items
    from edgeserve_ros.ros.timeconv import to_sec

    depth = source_mod.EAGER_QOS.depth
    if args.frames > depth:
        # Eager KEEP_LAST must hold a whole burst, or a slow link drops unacknowledged frames.
        source_mod.EAGER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=args.frames,
                                          reliability=ReliabilityPolicy.RELIABLE,
                                          durability=DurabilityPolicy.VOLATILE)
    frames = list(synthetic_items(args.pattern, args.payload_bytes, args.frames))
    rclpy.init()
    node = Node('ds_source')
    source = PayloadSource(node)
    mode = DeliveryMode.parse(args.mode)
    stream = source.add_stream(TOPIC, StreamOptions(
        capacity_bytes=(args.frames + 4) * (7 * MIB if args.pattern == 'image'
                                            else args.payload_bytes + 4096),
        ttl=3600.0, delivery=mode, use_shm=False))
    spin_in_background(node)
    matched = wait_until(lambda: node.count_subscribers(TOPIC) >= 1, 60.0)
    emit('ready', matched=bool(matched), eager_depth=max(depth, args.frames))
    for cmd in read_commands():
        if cmd.get('cmd') == 'warmup':
            stream.publish(b'warm', frame_id='warmup')
        elif cmd.get('cmd') == 'burst':
            tag = cmd['tag']
            first_begin, publish_s, size = None, [], 0
            for i, frame in enumerate(frames):
                begin = time.perf_counter()
                header = stream.publish(frame, frame_id=f'{tag}:{i}')
                publish_s.append(time.perf_counter() - begin)
                size = header.size
                if first_begin is None:
                    first_begin = to_sec(header.send_stamp)
            emit('sent', tag=tag, first_begin=first_begin, end=time.time(),
                 publish_s=publish_s, frame_bytes=size)
    source.close()
    return child_exit()


# -- consumer host ----------------------------------------------------------------------

def run_consumer(args: argparse.Namespace) -> int:
    """Use 1 in k headers of each episode; report when the needed payloads are held."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.dataplane.fetcher import PayloadFetcher
    from edgeserve_ros.msg import PayloadHeader
    from edgeserve_ros.ros.qos import HEADER_QOS

    rclpy.init()
    node = Node('ds_consumer')
    # One fetch may take many seconds on a slow link: no timeout-driven duplicate requests.
    fetcher = PayloadFetcher(node, timeout=600.0, retries=0, max_in_flight=8, use_shm=False)
    lock = threading.Lock()
    episode: Dict[str, Any] = {}

    def on_payload(fut: Any, index: int, tag: str) -> None:
        held = time.time()
        result = fut.result()
        with lock:
            if episode.get('tag') != tag:
                return
            if not result.ok:
                emit('error', tag=tag, index=index, status=result.status.name,
                     reason=result.reason)
                return
            episode['held'][index] = held
            episode['bytes'] += len(result.data or b'')
            if len(episode['held']) == episode['needed']:
                emit('done', tag=tag, last_held=max(episode['held'].values()),
                     fetched=len(episode['held']), bytes=episode['bytes'],
                     paths=sorted(fetcher.counts))

    def on_header(header: PayloadHeader) -> None:
        if header.header.frame_id == 'warmup':
            fut = fetcher.fetch_async(header)
            fut.add_done_callback(lambda f: emit('warm', ok=f.result().ok))
            return
        tag, _, index_text = header.header.frame_id.partition(':')
        with lock:
            if episode.get('tag') != tag:
                return
            index = int(index_text)
            episode['seen'] += 1
            if episode['seen'] == episode['n']:
                emit('headers', tag=tag, last=time.time())
            needed = (index + 1) % episode['k'] == 0
        if needed:
            fut = fetcher.fetch_async(header)
            fut.add_done_callback(lambda f, i=index, t=tag: on_payload(f, i, t))

    node.create_subscription(PayloadHeader, TOPIC, on_header, HEADER_QOS)
    spin_in_background(node)
    emit('ready')
    for cmd in read_commands():
        if cmd.get('cmd') == 'episode':
            with lock:
                k, n = cmd['k'], cmd['n']
                episode.clear()
                episode.update(tag=cmd['tag'], k=k, n=n, seen=0, held={}, bytes=0,
                               needed=sum(1 for i in range(n) if (i + 1) % k == 0))
            emit('armed', tag=cmd['tag'])
    return child_exit()


# -- main -------------------------------------------------------------------------------

def tx_bytes(lab: Any, host: str) -> int:
    """Return the bytes sent so far by ``host``'s eth0."""
    out = subprocess.run(['ip', '-n', lab.netns(host), '-s', '-j', 'link', 'show', 'eth0'],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return int(json.loads(out)[0]['stats64']['tx']['bytes'])


def run_mode(lab: Any, mode: str, args: argparse.Namespace,
             ks: Sequence[int]) -> List[Dict[str, Any]]:
    """Start source and consumer for ``mode``, run one burst per k; return the rows."""
    extra = ['--mode', mode, '--frames', args.frames, '--pattern', args.pattern,
             '--payload-bytes', args.payload_bytes]
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    consumer = JsonChild(proc=lab.popen('dst', self_argv(__file__, 'consumer', extra),
                                        **pipes), name=f'{mode} consumer')
    source = JsonChild(proc=lab.popen('src', self_argv(__file__, 'source', extra), **pipes),
                       name=f'{mode} source')
    rows = []
    try:
        consumer.expect('ready', 60.0)
        ready = source.expect('ready', 90.0)
        if not ready['matched']:
            raise RuntimeError('source saw no subscriber across the link in 60 s')
        for _ in range(60):
            source.send(cmd='warmup')
            try:
                if consumer.expect('warm', 2.0)['ok']:
                    break
            except TimeoutError:
                continue
        else:
            raise RuntimeError('warm-up fetch never succeeded')
        progress(f'{mode}: source and consumer matched across the link, warm-up done')
        for k in ks:
            tag = f'{mode}k{k}'
            consumer.send(cmd='episode', tag=tag, k=k, n=args.frames)
            consumer.expect('armed', 10.0)
            time.sleep(0.5)  # let the link go idle
            tx0 = tx_bytes(lab, 'src')
            source.send(cmd='burst', tag=tag)
            sent = source.expect('sent', 600.0)
            progress(f'{mode} k={k:<2}: burst of {args.frames} published in '
                     f'{sent["end"] - sent["first_begin"]:.2f} s')
            done = consumer.expect('done', 900.0)
            consumer.expect('headers', 900.0)
            time.sleep(0.2)
            link = tx_bytes(lab, 'src') - tx0
            duration = done['last_held'] - sent['first_begin']
            row = {'mode': mode, 'k': k, 'frames': args.frames, 'fetched': done['fetched'],
                   'frame_bytes': sent['frame_bytes'], 'duration_s': duration,
                   'link_mb': link / 1e6, 'payload_mb': done['bytes'] / 1e6,
                   'publish_max_ms': max(sent['publish_s']) * 1e3,
                   'burst_s': sent['end'] - sent['first_begin']}
            rows.append(row)
            progress(f'{mode} k={k:<2}: {duration:6.2f} s, {done["fetched"]} frames used, '
                     f'{link / 1e6:.1f} MB on the link')
    finally:
        source.stop(5.0)
        consumer.stop(5.0)
    return rows


def report(rows: List[Dict[str, Any]], args: argparse.Namespace, ks: Sequence[int],
           elapsed: float, lab_info: str) -> None:
    """Write md, CSV and plot."""
    cols = ['mode', 'k', 'frames', 'fetched', 'frame_bytes', 'duration_s', 'link_mb',
            'payload_mb', 'publish_max_ms', 'burst_s']
    write_csv(args.name, cols, [[r[c] for c in cols] for r in rows])
    by = {(r['mode'], r['k']): r for r in rows}
    table_rows, targets = [], []
    for k in ks:
        e, la = by.get(('eager', k)), by.get(('lazy', k))
        if not e or not la:
            continue
        r = ratio(la['duration_s'], e['duration_s'])
        bound = 1.2 / k
        table_rows.append([k, f'{e["duration_s"]:.2f}', f'{la["duration_s"]:.2f}',
                           fmt(r, 3), fmt(bound, 3), f'{e["link_mb"]:.1f}',
                           f'{la["link_mb"]:.1f}', la['fetched']])
        targets.append((f'k={k}: lazy <= 1.2/k x eager ({bound:.3f})', f'{fmt(r, 3)}x',
                        r <= bound))
    frame = rows[0]['frame_bytes'] if rows else 0
    what = ('1920x1080 bgr8 frames (pattern image)' if args.pattern == 'image'
            else f'opaque frames of {size_label(args.payload_bytes)} (pattern bytes)')
    scaled = (f'{args.frames} frames of {frame / 1e6:.2f} MB ({what}) per burst instead of the '
              f"paper's 150 frames, so the run stays within a few minutes; link "
              f'{args.rate:g} Mbit/s (tbf, both directions of each host link, NetnsLab '
              f'defaults: burst 10 ms of traffic, queue latency 100 ms).')
    sections = [
        ('Targets', targets_table(targets)),
        ('Total working duration (s) by k', md_table(
            ['k', 'eager s', 'lazy s', 'lazy/eager', 'target <=', 'eager link MB',
             'lazy link MB', 'frames used'], table_rows)),
        ('What was scaled', scaled),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\nFrames are published back to back (no rate limit), so the link is the '
           f'bottleneck. Eager QoS: the data plane\'s `EAGER_QOS` (reliable KEEP_LAST '
           f'{max(10, args.frames)}, raised by the benchmark only when a burst is longer than '
           f'10) holds the whole burst. Lazy fetches: `PayloadFetcher(timeout=600, retries=0, '
           f'max_in_flight=8, use_shm=False)`, so a slow reply is never re-requested. Before '
           f'each burst the consumer is armed and the link idles 0.5 s; the next burst starts '
           f'only after the consumer saw every header of this one (eager: every frame). '
           f'{lab_info}. Run took {elapsed:.0f} s.'),
    ]
    info = machine_info({'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4 (NetnsLab children)'})
    write_md(args.name, 'Data skipping over a 20 Mbit/s link, eager vs lazy (paper Fig. 7)'
             if args.rate == 20 else f'Data skipping over a {args.rate:g} Mbit/s link',
             sections, info)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for mode, marker in zip(MODES, 'os'):
        pts = sorted((r['k'], r['duration_s']) for r in rows if r['mode'] == mode)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=mode)
    ax.set_xlabel('k (consumer uses 1 in k frames)')
    ax.set_ylabel('total working duration (s)')
    ax.set_title(f'{args.frames} x {frame / 1e6:.1f} MB frames over {args.rate:g} Mbit/s')
    ax.set_xticks(list(ks))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (or a child role)."""
    args = parse_args(argv)
    if args.role == 'source':
        return run_source(args)
    if args.role == 'consumer':
        return run_consumer(args)
    from edgeserve_ros.topology.netns import NetnsLab, netns_available

    ok, why = netns_available()
    if not ok:
        progress(f'cannot run: {why}')
        return 2
    ks = [int(k) for k in args.ks.split(',')]
    start = time.monotonic()
    progress(f'{NAME}: {args.frames} frames ({args.pattern}), k in {ks}, '
             f'{args.rate:g} Mbit/s')
    rows: List[Dict[str, Any]] = []
    with NetnsLab(hosts=['src', 'dst'], rate_mbit=args.rate, domain_id=args.domain_id) as lab:
        progress(f'lab up: src {lab.addr("src")}, dst {lab.addr("dst")}, shaped '
                 f'{args.rate:g} Mbit/s')
        lab_info = f'Lab hosts src {lab.addr("src")}, dst {lab.addr("dst")}; tbf:\n\n```\n' \
                   f'{lab.qdisc("src")}\n```\n'
        for mode in MODES:
            rows += run_mode(lab, mode, args, ks)
    report(rows, args, ks, time.monotonic() - start, lab_info)
    progress(f'wrote {result_path(args.name, "md")}, .csv, .png')
    return 0


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through NetnsLab.__exit__: no leaked netns


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())

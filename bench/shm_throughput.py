"""Same-host fetch throughput: shared memory fast path vs fetch service vs memcpy.

A producer process (this script with ``--role producer``) stores one payload per size in
two rings: one in POSIX shared memory (``use_shm=True``) and one private (``use_shm=False``,
reachable only through the ``FetchPayload`` service). This process is the consumer: it
receives both headers per size and times ``PayloadFetcher.fetch(header)`` (called from the
main thread while a background executor spins the node) for

- ``shm``: the mmap fast path as the data plane runs it: the XXH3-64 checksum verified in
  place over the mapped ring, the slot header checked after it (zero-copy: the result is a
  read-only view, copied only when the caller keeps it);
- ``shm + keep``: the same, then ``result.data`` (copy out of the ring, slot checked again),
  what a consumer that keeps the payload pays;
- ``shm (no check)``: the zero-copy fetch with ``verify=False``, to show what the check costs;
- ``service``: request/answer through rclpy and Fast DDS (+ XXH3-64 check);
- ``memcpy``: a numpy copy of the same bytes in this process (the baseline);
- ``xxh3_64``: the checksum (``xxhash.xxh3_64_intdigest``) of the same bytes alone.

The paths are interleaved in every repetition, so all columns share the same noise.
Throughput = payload bytes / p50 seconds (GB = 1e9 bytes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (child_env, child_exit, emit, fmt, JsonChild, machine_info, md_table, MIB,
                     percentile, progress, pyplot, save_figure, ratio, read_commands, result_path,
                     self_argv, size_label, spin_in_background, targets_table, wait_until,
                     write_csv, write_md)

NAME = 'shm_throughput'
DOMAIN_ID = 154
SIZES = (1 * MIB, 8 * MIB, 32 * MIB)
TOPICS = {'shm': '/st/shm', 'service': '/st/svc'}
PATHS = ('shm', 'shm + keep', 'shm (no check)', 'service', 'memcpy', 'xxh3_64')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='~30 s version (fewer repetitions)')
    p.add_argument('--reps', type=int, default=None,
                   help='repetitions at 1 MB (8 MB: a third, 32 MB: a tenth; default 90)')
    p.add_argument('--name', default=NAME, help='base name of the result files')
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    p.add_argument('--role', default='main', choices=('main', 'producer'),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 30 if args.quick else 90
    return args


def run_producer() -> int:
    """Store one payload per size in a shm ring and a private ring; publish the headers."""
    import numpy as np
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions

    rclpy.init()
    node = Node('st_producer')
    source = PayloadSource(node)
    capacity = 3 * sum(SIZES) + MIB
    streams = {mode: source.add_stream(topic, StreamOptions(
        capacity_bytes=capacity, ttl=3600.0, use_shm=(mode == 'shm')))
        for mode, topic in TOPICS.items()}
    spin_in_background(node)
    rng = np.random.default_rng(1)
    payloads = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in SIZES]
    matched = wait_until(lambda: all(node.count_subscribers(t) >= 1 for t in TOPICS.values()),
                         30.0)
    emit('ready', matched=bool(matched))
    for cmd in read_commands():
        if cmd.get('cmd') == 'publish':
            for payload in payloads:
                for stream in streams.values():
                    stream.publish(payload)
            emit('published')
    source.close()  # unlinks the shared memory
    return child_exit()


def measure(args: argparse.Namespace) -> Dict[tuple, List[float]]:
    """Return seconds per (path, size) for every repetition."""
    import numpy as np
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.dataplane.checksum import checksum
    from edgeserve_ros.dataplane.fetcher import PayloadFetcher
    from edgeserve_ros.msg import PayloadHeader
    from edgeserve_ros.ros.qos import HEADER_QOS

    rclpy.init()
    node = Node('st_consumer')
    headers: Dict[tuple, Any] = {}

    def on_header(topic: str, header: PayloadHeader) -> None:
        headers[(topic, int(header.size))] = header

    for mode, topic in TOPICS.items():
        node.create_subscription(PayloadHeader, topic,
                                 lambda h, m=mode: on_header(m, h), HEADER_QOS)
    checked = PayloadFetcher(node, timeout=10.0, retries=1, use_shm=True, verify=True)
    raw = PayloadFetcher(node, timeout=10.0, retries=1, use_shm=True, verify=False)
    spinner = spin_in_background(node)
    producer = JsonChild(self_argv(__file__, 'producer'), env=child_env(args.domain_id),
                         name='producer')
    times: Dict[tuple, List[float]] = {(p, s): [] for p in PATHS for s in SIZES}
    try:
        if not producer.expect('ready', 60.0)['matched']:
            raise RuntimeError('producer saw no subscriber in 30 s')
        for _ in range(5):
            producer.send(cmd='publish')
            producer.expect('published', 60.0)
            if wait_until(lambda: len(headers) == len(SIZES) * len(TOPICS), 5.0):
                break
        else:
            raise RuntimeError(f'got {len(headers)} of {len(SIZES) * len(TOPICS)} headers')
        progress('producer up, headers of every size received')
        for size in SIZES:
            reps = _reps(args.reps, size)
            shm_h, svc_h = headers[('shm', size)], headers[('service', size)]
            for fetcher, header in ((checked, shm_h), (checked, svc_h)):  # warm-up, path check
                result = fetcher.fetch(header)
                if not result.ok:
                    raise RuntimeError(f'{size_label(size)}: {result.status.name} '
                                       f'{result.reason}')
            first = checked.fetch(shm_h)
            if first.path != 'shm' or checked.fetch(svc_h).path != 'service':
                raise RuntimeError('shm header not served from shared memory (same host?)')
            data = np.frombuffer(first.data, dtype=np.uint8)
            if checksum(data) != shm_h.checksum:
                raise RuntimeError(f'{size_label(size)}: kept bytes fail the checksum')
            for _ in range(reps):
                for path in PATHS:
                    times[(path, size)].append(_time_one(path, checked, raw, shm_h, svc_h,
                                                         data))
            p50 = {p: percentile(times[(p, size)], 50) for p in PATHS}
            progress(f'{size_label(size):>5}: {reps} reps, GB/s p50 ' + ', '.join(
                f'{p} {size / p50[p] / 1e9:.2f}' for p in PATHS))
    finally:
        producer.stop(10.0)
        spinner.close()
        checked.close()
        raw.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return times


def _reps(reps_1mb: int, size: int) -> int:
    """Return repetitions for ``size``: all at 1 MB, a third at 8 MB, a tenth at 32 MB."""
    if size <= MIB:
        return reps_1mb
    return max(reps_1mb // (3 if size <= 8 * MIB else 10), 3)


def _time_one(path: str, checked: Any, raw: Any, shm_h: Any, svc_h: Any, data: Any) -> float:
    """Time one transfer of ``path``; raise when a fetch fails."""
    from edgeserve_ros.dataplane.checksum import checksum
    begin = time.perf_counter()
    if path == 'memcpy':
        data.copy()
        return time.perf_counter() - begin
    if path == 'xxh3_64':
        checksum(data)
        return time.perf_counter() - begin
    fetcher, header = {'shm': (checked, shm_h), 'shm + keep': (checked, shm_h),
                       'shm (no check)': (raw, shm_h), 'service': (checked, svc_h)}[path]
    result = fetcher.fetch(header)
    kept = result.data if path == 'shm + keep' else None
    seconds = time.perf_counter() - begin
    if not result.ok or result.size != header.size or result.path != path.split()[0]:
        raise RuntimeError(f'{path}: {result.status.name} {result.reason} ({result.path})')
    if kept is not None and len(kept) != header.size:
        raise RuntimeError(f'{path}: kept {len(kept)} of {header.size} bytes')
    return seconds


def report(times: Dict[tuple, List[float]], args: argparse.Namespace, elapsed: float) -> None:
    """Write md, CSV and plot."""
    gbps = {key: key[1] / percentile(v, 50) / 1e9 for key, v in times.items()}
    rows = []
    for size in SIZES:
        for path in PATHS:
            v = times[(path, size)]
            rows.append([path, size, len(v), percentile(v, 50) * 1e3, percentile(v, 90) * 1e3,
                         gbps[(path, size)], ratio(gbps[(path, size)],
                                                   gbps[('memcpy', size)])])
    write_csv(args.name, ['path', 'size_bytes', 'n', 'p50_ms', 'p90_ms', 'gbps_p50',
                          'ratio_to_memcpy'], rows)
    table = md_table(
        ['size'] + [f'{p} GB/s (x memcpy)' for p in PATHS],
        [[size_label(s)] + [f'{fmt(gbps[(p, s)], 2)} ({fmt(ratio(gbps[(p, s)], gbps[("memcpy", s)]), 2)})'  # noqa: E501
                            for p in PATHS] for s in SIZES])
    lat = md_table(['size'] + [f'{p} p50 / p90 ms' for p in PATHS],
                   [[size_label(s)] + [f'{fmt(percentile(times[(p, s)], 50) * 1e3)} / '
                                       f'{fmt(percentile(times[(p, s)], 90) * 1e3)}'
                                       for p in PATHS] for s in SIZES])
    s8 = 8 * MIB
    shm_x = ratio(gbps[('shm', s8)], gbps[('memcpy', s8)])
    keep_x = ratio(gbps[('shm + keep', s8)], gbps[('memcpy', s8)])
    targets = [('shm fetch (as shipped: zero-copy, XXH3-64 verified) >= 0.8x memcpy at 8 MB',
                f'{fmt(shm_x, 2)}x memcpy ({fmt(gbps[("shm", s8)], 2)} GB/s)', shm_x >= 0.8),
               ('shm fetch + keep (copy out, verified) >= 1 GB/s at 8 MB',
                f'{fmt(gbps[("shm + keep", s8)], 2)} GB/s ({fmt(keep_x, 2)}x memcpy)',
                gbps[('shm + keep', s8)] >= 1.0),
               ('shm fast path faster than the service path at 8 MB',
                f'{fmt(ratio(gbps[("shm", s8)], gbps[("service", s8)]), 1)}x service',
                gbps[('shm', s8)] > gbps[('service', s8)])]
    sections = [
        ('Targets', targets_table(targets)),
        ('Throughput, GB/s at p50 (ratio to memcpy of the same bytes)', table),
        ('Latency per transfer', lat),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + '\n\nRepetitions: '
         + ', '.join(f'{_reps(args.reps, s)} at {size_label(s)}' for s in SIZES)
         + f', after one warm-up fetch per path. Run took {elapsed:.0f} s.'),
    ]
    write_md(args.name, 'Same-host fetch throughput: shm vs service vs memcpy', sections,
             machine_info())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / len(PATHS)
    xs = range(len(SIZES))
    for i, path in enumerate(PATHS):
        offset = (i - (len(PATHS) - 1) / 2) * width
        ax.bar([x + offset for x in xs], [gbps[(path, s)] for s in SIZES], width,
               label=path)
    ax.axhline(1.0, color='gray', linestyle='--', linewidth=1, label='1 GB/s target')
    ax.set_xticks(list(xs))
    ax.set_xticklabels([size_label(s) for s in SIZES])
    ax.set_yscale('log')
    ax.set_ylabel('GB/s (p50)')
    ax.set_title('same-host fetch throughput')
    ax.legend(fontsize=8)
    ax.grid(True, axis='y', alpha=0.3)
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (or the producer role)."""
    args = parse_args(argv)
    if args.role == 'producer':
        return run_producer()
    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    start = time.monotonic()
    progress(f'{NAME}: sizes ' + ', '.join(size_label(s) for s in SIZES) + '; paths '
             + ', '.join(PATHS))
    times = measure(args)
    report(times, args, time.monotonic() - start)
    progress(f'wrote {result_path(args.name, "md")}, .csv, .png')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Lazy vs eager vs auto delivery by payload size (paper section 6.3.1-6.3.3, Fig. 4/5).

One producer process (this one) and one consumer process (this script with ``--role
consumer``) on the same host. The producer has four streams, one per column:

- ``lazy``: header only, payload fetched through the source's ``FetchPayload`` service
  (``use_shm=False`` on both sides of this stream: the path a remote consumer takes);
- ``lazy+shm``: header only, payload read from the source's shared memory ring (same-host
  fast path);
- ``eager``: payload inline in the header (ROS-style);
- ``auto``: ring outside shared memory, so every consumer fetches through the service:
  inline up to ``DEFAULT_SERVICE_THRESHOLD`` bytes, lazy (service) above;
- ``auto+shm``: the ring in shared memory (the ``StreamOptions`` default) and a consumer that
  reads it: inline up to ``DEFAULT_AUTO_THRESHOLD`` bytes, lazy (shm path) above.

Samples are ping-pong: the producer publishes one message, waits until the consumer holds
the verified payload (XXH3-64 checksum checked by ``PayloadFetcher``), then sends the next,
rotating through the four streams so all columns are measured side by side under the same noise.

Latencies (paper section 6.2.1), all on the host's one wall clock:

- producer sending = duration of the header ``publish()`` call (``stream.last_send_latency``;
  for eager it includes handing the inline payload to DDS);
- consumer receiving = consumer holds the verified payload - producer finished sending;
- total communication = consumer holds the verified payload - producer began sending.

``publish_call`` (the whole ``stream.publish``: encode, store in the ring, copy inline
bytes, send) is recorded as well.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from _common import (child_env, child_exit, emit, fmt, JsonChild, KIB, machine_info, md_table, MIB,
                     percentile, progress, pyplot, save_figure, ratio, read_commands, result_path,
                     self_argv, size_label, spin_in_background, targets_table, wait_until,
                     write_csv, write_md)

NAME = 'delivery_modes'
DOMAIN_ID = 151
MODES = ('lazy', 'lazy+shm', 'eager', 'auto', 'auto+shm')
TOPICS = {'lazy': '/dm/lazy', 'lazy+shm': '/dm/lazy_shm', 'eager': '/dm/eager',
          'auto': '/dm/auto', 'auto+shm': '/dm/auto_shm'}
#: The lazy column each auto column is compared with (auto sends large payloads lazily).
AUTO_LAZY = {'auto': 'lazy', 'auto+shm': 'lazy+shm'}
SIZES = (1 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 512 * KIB, 1 * MIB, 4 * MIB, 8 * MIB,
         32 * MIB)
METRICS = ('producer', 'consumer', 'total', 'publish_call')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='~30 s version (fewer samples)')
    p.add_argument('--samples', type=int, default=None,
                   help='samples per cell after warm-up (default 40; quick 8)')
    p.add_argument('--large-samples', type=int, default=None,
                   help='samples per cell at 32 MB (default 12; quick 3)')
    p.add_argument('--warmup', type=int, default=None, help='warm-up samples per cell')
    p.add_argument('--transport', default=None,
                   help='FASTDDS_BUILTIN_TRANSPORTS for both processes (DEFAULT, UDPv4, '
                        'SHM, LARGE_DATA); default: inherited environment')
    p.add_argument('--name', default=NAME, help='base name of the result files')
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    p.add_argument('--role', default='main', choices=('main', 'consumer'),
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


# -- consumer process -------------------------------------------------------------------

def run_consumer() -> int:
    """Subscribe to every stream, fetch every payload, report when it is held and verified."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.dataplane.fetcher import PayloadFetcher
    from edgeserve_ros.msg import PayloadHeader
    from edgeserve_ros.ros.qos import HEADER_QOS

    rclpy.init()
    node = Node('dm_consumer')
    fetcher = PayloadFetcher(node, timeout=10.0, retries=1, max_in_flight=8, use_shm=True)
    lock = threading.Lock()

    def on_header(header: PayloadHeader) -> None:
        arrived = time.time()
        future = fetcher.fetch_async(header)

        def done(fut: Any) -> None:
            held = time.time()
            result = fut.result()
            with lock:
                emit('recv', stream=header.stream, seq=header.seq, held=held,
                     arrived=arrived, ok=result.ok, status=result.status.name,
                     path=result.path, size=len(result.data or b''))

        future.add_done_callback(done)

    for topic in TOPICS.values():
        node.create_subscription(PayloadHeader, topic, on_header, HEADER_QOS)
    spin_in_background(node)
    emit('ready')
    for _ in read_commands():
        pass  # runs until the parent closes stdin
    return child_exit()


# -- producer (main) --------------------------------------------------------------------

def measure(args: argparse.Namespace) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Run the ping-pong samples; return the per-sample rows and run facts."""
    import numpy as np
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.dataplane.delivery import (
        DEFAULT_AUTO_THRESHOLD, DEFAULT_SERVICE_THRESHOLD, DeliveryMode)
    from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
    from edgeserve_ros.ros.timeconv import to_sec

    samples = args.samples or (8 if args.quick else 40)
    large_samples = args.large_samples or (3 if args.quick else 12)
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)

    consumer = JsonChild(self_argv(__file__, 'consumer'),
                         env=child_env(args.domain_id, args.transport), name='consumer')
    rclpy.init()
    node = Node('dm_producer')
    source = PayloadSource(node)
    capacity = 4 * max(SIZES) + MIB
    streams = {
        'lazy': StreamOptions(capacity_bytes=capacity, ttl=60.0, delivery=DeliveryMode.LAZY,
                              use_shm=False),
        'lazy+shm': StreamOptions(capacity_bytes=capacity, ttl=60.0,
                                  delivery=DeliveryMode.LAZY, use_shm=True),
        'eager': StreamOptions(capacity_bytes=capacity, ttl=60.0,
                               delivery=DeliveryMode.EAGER, use_shm=False),
        'auto': StreamOptions(capacity_bytes=capacity, ttl=60.0, delivery=DeliveryMode.AUTO,
                              use_shm=False),
        'auto+shm': StreamOptions(capacity_bytes=capacity, ttl=60.0,
                                  delivery=DeliveryMode.AUTO, use_shm=True),
    }
    handles = {mode: source.add_stream(TOPICS[mode], opt) for mode, opt in streams.items()}
    spinner = spin_in_background(node)
    rows: List[Dict[str, Any]] = []
    lost = 0
    try:
        consumer.expect('ready', 60.0)
        if not wait_until(lambda: all(node.count_subscribers(t) >= 1 for t in TOPICS.values()),
                          30.0):
            raise RuntimeError('consumer subscriptions not matched in 30 s')
        progress(f'consumer matched on all {len(TOPICS)} streams')
        rng = np.random.default_rng(0)
        for size in SIZES:
            payload = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
            n = large_samples if size >= 32 * MIB else samples
            cell_lost = 0
            for i in range(warmup + n):
                order = MODES[i % len(MODES):] + MODES[:i % len(MODES)]
                for mode in order:
                    row = _one_sample(handles[mode], payload, consumer, to_sec)
                    if row is None:
                        cell_lost += 1
                        continue
                    if i >= warmup:
                        row.update(mode=mode, size=size, sample=i - warmup)
                        rows.append(row)
            lost += cell_lost
            cells = [r for r in rows if r['size'] == size]
            med = {m: percentile([r['total'] for r in cells if r['mode'] == m], 50) * 1e3
                   for m in MODES}
            progress(f'{size_label(size):>6}: {n} samples x {len(MODES)} modes, total p50 '
                     + ', '.join(f'{m} {med[m]:.2f} ms' for m in MODES)
                     + (f' ({cell_lost} lost)' if cell_lost else ''))
    finally:
        consumer.stop()
        spinner.close()
        source.close()
        node.destroy_node()
        rclpy.try_shutdown()
    facts = {'samples': samples, 'large_samples': large_samples, 'warmup': warmup,
             'lost': lost, 'auto_threshold': DEFAULT_AUTO_THRESHOLD,
             'service_threshold': DEFAULT_SERVICE_THRESHOLD}
    return rows, facts


def _one_sample(stream: Any, payload: bytes, consumer: JsonChild,
                to_sec: Any) -> Optional[Dict[str, Any]]:
    """Publish one payload and wait for the consumer's verified copy; None when lost."""
    begin = time.perf_counter()
    header = stream.publish(payload)
    publish_call = time.perf_counter() - begin
    send_begin = to_sec(header.send_stamp)
    send_latency = stream.last_send_latency
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        msg = consumer.get(max(deadline - time.monotonic(), 0.0))
        if msg is None or msg.get('kind') == 'eof':
            break
        if msg.get('kind') != 'recv' or msg['stream'] != stream.name or msg['seq'] != header.seq:
            continue  # a late answer of an earlier, lost sample
        if not msg['ok'] or msg['size'] != len(payload):
            progress(f'{stream.name}#{header.seq}: {msg["status"]} via {msg["path"]}')
            return None
        held = msg['held']
        return {'producer': send_latency, 'consumer': held - (send_begin + send_latency),
                'total': held - send_begin, 'publish_call': publish_call,
                'path': msg['path']}
    progress(f'{stream.name}#{header.seq}: no verified payload in 20 s')
    return None


# -- analysis and report ----------------------------------------------------------------

def summarize(rows: List[Dict[str, Any]]) -> Dict[Tuple[str, int], Dict[str, Any]]:
    """Return p50/p90 (seconds) per (mode, size) and metric, plus sample count and paths."""
    out: Dict[Tuple[str, int], Dict[str, Any]] = {}
    for mode in MODES:
        for size in SIZES:
            cell = [r for r in rows if r['mode'] == mode and r['size'] == size]
            stats: Dict[str, Any] = {'n': len(cell),
                                     'paths': '/'.join(sorted({r['path'] for r in cell}))}
            for metric in METRICS:
                values = [r[metric] for r in cell]
                stats[metric] = (percentile(values, 50), percentile(values, 90))
            out[(mode, size)] = stats
    return out


def break_even(stats: Dict[Tuple[str, int], Dict[str, Any]], lazy_mode: str) -> str:
    """Describe where lazy (``lazy_mode``) total p50 becomes lower than eager's for good."""
    lazy_wins = [stats[(lazy_mode, s)]['total'][0] < stats[('eager', s)]['total'][0]
                 for s in SIZES]
    first = next((i for i in range(len(SIZES)) if all(lazy_wins[i:])), None)
    if first is None:
        return f'{lazy_mode} never beats eager up to {size_label(SIZES[-1])}'
    if first == 0:
        return f'{lazy_mode} beats eager at every size from {size_label(SIZES[0])}'
    return (f'between {size_label(SIZES[first - 1])} (eager faster) and '
            f'{size_label(SIZES[first])} ({lazy_mode} faster from here on)')


def recommend_threshold(stats: Dict[Tuple[str, int], Dict[str, Any]]) -> Tuple[int, str]:
    """Return the largest size up to which eager total p50 <= lazy (service) at every size."""
    best = 0
    for size in SIZES:
        if stats[('eager', size)]['total'][0] <= stats[('lazy', size)]['total'][0]:
            best = size
        else:
            break
    if best == 0:
        return 0, 'lazy (service) is faster even at the smallest size: threshold 0'
    return best, (f'eager total p50 <= lazy (service) total p50 at every size up to '
                  f'{size_label(best)}: threshold {best} bytes ({size_label(best)})')


def report(rows: List[Dict[str, Any]], facts: Dict[str, Any], args: argparse.Namespace,
           elapsed: float) -> None:
    """Write the markdown, CSV and PNG results."""
    stats = summarize(rows)
    ms = 1e3
    write_csv(args.name + '_samples', ['mode', 'size_bytes', 'sample', 'producer_ms',
                                       'consumer_ms', 'total_ms', 'publish_call_ms', 'path'],
              [(r['mode'], r['size'], r['sample'], r['producer'] * ms, r['consumer'] * ms,
                r['total'] * ms, r['publish_call'] * ms, r['path']) for r in rows])
    header = ['mode', 'size_bytes', 'n', 'path']
    for metric in METRICS:
        header += [f'{metric}_p50_ms', f'{metric}_p90_ms']
    csv_rows = []
    for (mode, size), st in stats.items():
        row: List[Any] = [mode, size, st['n'], st['paths']]
        for metric in METRICS:
            row += [st[metric][0] * ms, st[metric][1] * ms]
        csv_rows.append(row)
    write_csv(args.name, header, csv_rows)

    def cell(mode: str, size: int, metric: str) -> str:
        p50, p90 = stats[(mode, size)][metric]
        return f'{fmt(p50 * ms)} / {fmt(p90 * ms)}'

    sections = []
    for metric, title in (('producer', 'Producer sending latency, p50 / p90 ms'),
                          ('consumer', 'Consumer receiving latency, p50 / p90 ms'),
                          ('total', 'Total communication latency, p50 / p90 ms'),
                          ('publish_call', 'Whole publish() call (encode + store + inline '
                                           'copy + send), p50 / p90 ms')):
        table = md_table(['size'] + list(MODES),
                         [[size_label(s)] + [cell(m, s, metric) for m in MODES]
                          for s in SIZES])
        sections.append((title, table))
    sections.insert(0, ('Samples', md_table(
        ['size'] + list(MODES),
        [[size_label(s)] + [f"{stats[(m, s)]['n']} ({stats[(m, s)]['paths']})" for m in MODES]
         for s in SIZES])
        + f"\n\nSamples per cell after {facts['warmup']} warm-up rounds (count and fetch "
          f"path seen by the consumer). Lost or failed samples in the whole run: "
          f"{facts['lost']}."))

    # targets
    lazy_pub = [stats[('lazy', s)]['producer'][0] for s in SIZES]
    worst_pub = max(lazy_pub)
    size8 = 8 * MIB
    pub_ratio = ratio(stats[('eager', size8)]['producer'][0],
                      stats[('lazy', size8)]['producer'][0])
    auto_ratios: Dict[str, List[float]] = {}
    for auto, lazy in AUTO_LAZY.items():
        auto_ratios[auto] = [
            ratio(stats[(auto, s)]['total'][0],
                  min(stats[('eager', s)]['total'][0], stats[(lazy, s)]['total'][0]))
            for s in SIZES]
    threshold, why = recommend_threshold(stats)
    shm_threshold = 0
    for s in SIZES:
        if stats[('eager', s)]['total'][0] <= stats[('lazy+shm', s)]['total'][0]:
            shm_threshold = s
        else:
            break
    targets = [
        ('lazy header publish p50 <= 0.5 ms at every size 1 KB..32 MB',
         f'max {fmt(worst_pub * ms)} ms (per size: '
         + ', '.join(f'{size_label(s)} {fmt(v * ms)}' for s, v in zip(SIZES, lazy_pub)) + ')',
         worst_pub <= 0.5e-3),
        ('eager / lazy producer sending latency p50 at 8 MB >= 50x',
         f'{fmt(pub_ratio, 1)}x ({fmt(stats[("eager", size8)]["producer"][0] * ms)} ms / '
         f'{fmt(stats[("lazy", size8)]["producer"][0] * ms)} ms)', pub_ratio >= 50),
    ]
    for auto, lazy in AUTO_LAZY.items():
        worst = max(auto_ratios[auto])
        targets.append((
            f'{auto} total p50 <= 1.1x min(eager, {lazy}) at every size',
            f'worst {fmt(worst, 2)}x (per size: ' + ', '.join(
                f'{size_label(s)} {fmt(r, 2)}' for s, r in zip(SIZES, auto_ratios[auto]))
            + ')', worst <= 1.1))
    sections.insert(0, ('Targets', targets_table(targets)))
    findings = [
        f"- Break-even, eager vs lazy (service path), total communication p50: "
        f"{break_even(stats, 'lazy')}.",
        f"- Break-even, eager vs lazy+shm (same-host fast path): "
        f"{break_even(stats, 'lazy+shm')}.",
        f"- Auto thresholds in this run: DEFAULT_AUTO_THRESHOLD = {facts['auto_threshold']} "
        f"bytes ({size_label(facts['auto_threshold'])}) while every consumer reads the "
        f"shared-memory ring (auto+shm), DEFAULT_SERVICE_THRESHOLD = "
        f"{facts['service_threshold']} bytes ({size_label(facts['service_threshold'])}) while "
        f"consumers fetch through the service (auto); auto sends payloads of at most the "
        f"threshold inline.",
        f"- Threshold the data supports (service path, the cross-host case): {why}. "
        f"Against the same-host shm path it would be "
        f"{size_label(shm_threshold) if shm_threshold else '0 (lazy+shm always faster)'}.",
        "- Eager/lazy producer sending ratio per size: "
        + ', '.join(f"{size_label(s)} {fmt(ratio(stats[('eager', s)]['producer'][0], stats[('lazy', s)]['producer'][0]), 1)}x"  # noqa: E501
                    for s in SIZES) + '.',
    ]
    sections.insert(1, ('Findings (computed from this run)', '\n'.join(findings)))
    sections.append(('Method', (__doc__ or '').split('\n', 2)[2].strip()
                     + f"\n\nPing-pong samples, {facts['samples']} per cell "
                       f"({facts['large_samples']} at 32 MB) after {facts['warmup']} warm-up "
                       f"rounds; random payload bytes (octet-stream); sizes in binary units "
                       f"(1 KB = 1024 B). Producer QoS: the data plane's own "
                       f"(`HEADER_QOS` reliable KEEP_LAST 200 for lazy, `EAGER_QOS` reliable "
                       f"KEEP_LAST 10 for eager/auto); consumer subscription `HEADER_QOS`. "
                       f"Run took {elapsed:.0f} s."))
    info = machine_info({'samples per cell': str(facts['samples'])})
    write_md(args.name, 'Delivery modes: lazy vs eager vs auto by payload size '
                        '(paper Fig. 4/5)', sections, info)
    plot(stats, args.name)


def plot(stats: Dict[Tuple[str, int], Dict[str, Any]], name: str) -> None:
    """Three log-log panels like the paper's Fig. 5: producer, consumer, total vs size."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    xs = [s / KIB for s in SIZES]
    for ax, metric, title in zip(axes, ('producer', 'consumer', 'total'),
                                 ('(a) producer sending', '(b) consumer receiving',
                                  '(c) total communication')):
        for mode, marker in zip(MODES, 'osD^v'):
            p50 = [max(stats[(mode, s)][metric][0] * 1e3, 1e-4) for s in SIZES]
            p90 = [max(stats[(mode, s)][metric][1] * 1e3, 1e-4) for s in SIZES]
            line, = ax.plot(xs, p50, marker=marker, label=f'{mode} p50')
            ax.fill_between(xs, p50, p90, alpha=0.15, color=line.get_color())
        ax.set_xscale('log', base=2)
        ax.set_yscale('log')
        ax.set_xlabel('payload size (KB)')
        ax.set_ylabel('latency (ms), p50 line, p50-p90 band')
        ax.set_title(title)
        ax.grid(True, which='both', alpha=0.3)
    axes[0].legend()
    save_figure(fig, name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (or a child role)."""
    args = parse_args(argv)
    if args.role == 'consumer':
        return run_consumer()
    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    if args.transport:
        os.environ['FASTDDS_BUILTIN_TRANSPORTS'] = args.transport
    start = time.monotonic()
    progress(f'{NAME}: modes {", ".join(MODES)}; sizes '
             + ', '.join(size_label(s) for s in SIZES))
    rows, facts = measure(args)
    if not rows:
        progress('no samples measured')
        return 1
    report(rows, facts, args, time.monotonic() - start)
    progress(f'wrote {result_path(args.name, "md")}, .csv, _samples.csv, .png')
    return 0 if not math.isnan(rows[0]['total']) else 1


if __name__ == '__main__':
    sys.exit(main())

"""
The demo (README command 1): edgeserve_ros end to end on built-in data.

Part 1, lazy data routing: two source processes publish light headers (1080p camera frames
kept lazily, tiny IMU arrays sent inline) and a consumer process keeps 1 in ``--every-k``
headers and fetches only those payloads; this process prints what streamed, what was
fetched (and by which path) and the latencies.

Part 2, a decentralized topology (``config/topologies/har.yaml``): four body-worn sensor
sources, a local random forest next to each and an ensemble; live predictions and
real-time accuracy.
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from edgeserve_ros.dataplane.metrics import describe
from edgeserve_ros.msg import LatencyMetrics, PayloadHeader, SourceStats
from edgeserve_ros.ros.qos import HEADER_QOS, METRICS_QOS

STREAMS = {'/demo/camera': ('image', 0, 10.0), '/demo/imu': ('array', 256, 100.0)}


def _start_consumer(args: argparse.Namespace) -> subprocess.Popen:
    env = dict(os.environ, ROS_DOMAIN_ID=str(args.domain_id))
    return subprocess.Popen(
        [sys.executable, '-m', 'edgeserve_ros.dataplane.consumer_node', '--ros-args',
         '-p', f'streams:=[{",".join(STREAMS)}]', '-p', f'every_k:={args.every_k}',
         '-p', f'use_shm:={str(not args.no_shm).lower()}', '--log-level', 'warn'], env=env)


def _start_sources(args: argparse.Namespace) -> List[subprocess.Popen]:
    env = dict(os.environ, ROS_DOMAIN_ID=str(args.domain_id))
    procs = []
    for stream, (pattern, size, rate) in STREAMS.items():
        procs.append(subprocess.Popen(
            [sys.executable, '-m', 'edgeserve_ros.dataplane.source_node', '--ros-args',
             '-r', f'__node:=source_{stream.rsplit("/", 1)[1]}', '-p', f'stream:={stream}',
             '-p', f'pattern:={pattern}', '-p', f'payload_bytes:={max(size, 1)}',
             '-p', f'rate_hz:={rate}', '-p', 'delivery:=auto', '-p', 'stats_period:=0.5',
             '--log-level', 'warn'], env=env))
    return procs


class Monitor(Node):
    """Counts headers per stream and collects the consumer's latency metrics."""

    def __init__(self) -> None:
        super().__init__('demo_monitor')
        self.headers: Dict[str, int] = {s: 0 for s in STREAMS}
        self.header_bytes: Dict[str, int] = {s: 0 for s in STREAMS}
        self.metrics: Dict[str, List[LatencyMetrics]] = {s: [] for s in STREAMS}
        self.stats: Dict[str, SourceStats] = {}
        self.producer: Dict[str, List[float]] = {}
        for stream in STREAMS:
            self.create_subscription(PayloadHeader, stream,
                                     functools.partial(self._on_header, stream), HEADER_QOS)
        self.create_subscription(LatencyMetrics, '/edgeserve/metrics', self._on_metrics,
                                 METRICS_QOS)
        self.create_subscription(SourceStats, '/edgeserve/source_stats', self._on_stats,
                                 METRICS_QOS)

    def _on_metrics(self, msg: LatencyMetrics) -> None:
        if msg.role == 'producer':
            self.producer.setdefault(msg.stream, []).append(msg.producer_sending)
        else:
            self.metrics.setdefault(msg.stream, []).append(msg)

    def _on_stats(self, msg: SourceStats) -> None:
        self.stats[msg.stream] = msg

    def _on_header(self, stream: str, msg: PayloadHeader) -> None:
        self.headers[stream] += 1
        self.header_bytes[stream] += msg.size


def _report(mon: Monitor, seconds: float, every_k: int) -> str:
    lines = [f'\nedgeserve_ros demo: {seconds:.0f} s, consumer keeps 1 in {every_k} headers\n',
             f'{"stream":<14}{"headers":>8}{"payload MB":>11}{"fetched":>8}{"fetched MB":>11}'
             f'{"path":>9}{"send p50":>10}{"comm p50":>10}{"comm p99":>10}{"e2e p50":>9}'
             f'{"evicted":>8}']
    for stream in STREAMS:
        got = mon.metrics.get(stream, [])
        comm = describe([m.total_communication for m in got])
        e2e = describe([m.end_to_end for m in got])
        stats = mon.stats.get(stream)
        paths = ','.join(sorted({m.path for m in got})) or '-'
        lines.append(
            f'{stream:<14}{mon.headers[stream]:>8}{mon.header_bytes[stream] / 1e6:>11.1f}'
            f'{len(got):>8}{sum(m.bytes_fetched for m in got) / 1e6:>11.1f}{paths:>9}'
            f'{describe(mon.producer.get(stream, []))["p50"] * 1e3:>8.3f}ms'
            f'{comm["p50"] * 1e3:>8.2f}ms{comm["p99"] * 1e3:>8.2f}ms{e2e["p50"] * 1e3:>7.2f}ms'
            f'{(stats.evicted if stats else 0):>8}')
    lines.append('\nsend: producer sending latency (header publish); comm: total communication '
                 '(send start -> payload verified at the consumer); e2e: collection -> payload.')
    lines.append('headers crossed DDS for every item; payloads moved only for the kept ones '
                 '(inline: small items sent eagerly inside the header; shm: same-host shared '
                 'memory; service: FetchPayload across hosts).')
    return '\n'.join(lines)


def _wait(predicate: Callable[[], bool], error: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            if error:
                raise RuntimeError(f'{error} within {timeout:.0f} s')
            return
        time.sleep(0.02)


def main(argv: List[str] | None = None) -> int:
    """Run both parts of the demo (``--part`` picks one)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--part', choices=('all', 'dataplane', 'topology'), default='all',
                        help='which part of the demo to run')
    parser.add_argument('--topology', default='decentralized',
                        choices=('centralized', 'parallel', 'decentralized'),
                        help='topology of part 2')
    parser.add_argument('--seconds', type=float, default=8.0, help='how long to stream')
    parser.add_argument('--every-k', type=int, default=5, help='consumer keeps 1 in k')
    parser.add_argument('--no-shm', action='store_true', help='fetch through the service')
    parser.add_argument('--domain-id', type=int, default=42, help='ROS_DOMAIN_ID to use')
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.every_k < 1:
        parser.error('--seconds must be > 0 and --every-k >= 1')
    code = 0
    if args.part in ('all', 'dataplane'):
        print('== part 1: lazy data routing ==', flush=True)
        code = _dataplane(args)
    if args.part in ('all', 'topology'):
        print(f'\n== part 2: human activity recognition, {args.topology} topology ==',
              flush=True)
        from edgeserve_ros.topology.run import main as run_topology
        code = code or run_topology([_har_config(), '--set', f'topology={args.topology}',
                                     '--seconds', str(max(args.seconds, 10.0)),
                                     '--domain-id', str(args.domain_id + 1)])
    return code


def _har_config() -> str:
    try:
        from ament_index_python.packages import get_package_share_directory
        share = pathlib.Path(get_package_share_directory('edgeserve_ros'))
    except (ImportError, LookupError):
        share = pathlib.Path(__file__).resolve().parents[2]
    return str(share / 'config' / 'topologies' / 'har.yaml')


def _dataplane(args: argparse.Namespace) -> int:
    """Run part 1; print a table of what streamed and what was fetched."""
    rclpy.init(domain_id=args.domain_id)
    mon = Monitor()
    executor = SingleThreadedExecutor()
    executor.add_node(mon)
    threading.Thread(target=executor.spin, daemon=True).start()
    print(f'starting consumer_node (keeps 1 in {args.every_k}) and two source_node processes:')
    for stream, (pattern, size, rate) in STREAMS.items():
        what = '1920x1080 bgr8 frames (6.2 MB)' if pattern == 'image' else f'{size}-byte arrays'
        print(f'  {stream:<14} {what} at {rate:g} Hz, delivery auto')
    procs = [_start_consumer(args)]
    try:
        _wait(lambda: min(mon.count_subscribers(s) for s in STREAMS) >= 2,  # monitor+consumer
              'consumer_node did not subscribe')
        procs += _start_sources(args)
        _wait(lambda: sum(mon.headers.values()) > 0, 'no header from the sources')
        start = time.monotonic()
        for second in range(1, int(args.seconds) + 1):
            _wait(lambda: time.monotonic() >= start + second, '', timeout=2.0)
            fetched = sum(len(v) for v in mon.metrics.values())
            print(f'  t={second:3d} s  headers seen {sum(mon.headers.values()):5d}  '
                  f'payloads fetched {fetched:4d}', flush=True)
        print(_report(mon, args.seconds, args.every_k))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        executor.shutdown(timeout_sec=2.0)
        mon.destroy_node()
        rclpy.try_shutdown()
    return 0 if all(mon.metrics.get(s) for s in STREAMS) else 1


if __name__ == '__main__':
    sys.exit(main())

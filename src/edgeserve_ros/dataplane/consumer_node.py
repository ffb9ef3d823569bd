"""
``consumer_node``: subscribes to payload headers, fetches 1 in ``every_k``, reports latencies.

Headers it skips are never fetched: a down-sampling consumer transfers only what it uses.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

from edgeserve_ros.dataplane.fetcher import FetchResult, PayloadFetcher
from edgeserve_ros.dataplane.metrics import ExampleTimes, TaskTracker
from edgeserve_ros.msg import LatencyMetrics, PayloadHeader
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import HEADER_QOS, METRICS_QOS
from edgeserve_ros.ros.timeconv import to_sec

PARAMS = [
    ParamSpec('streams', ['stream'], 'Header topics (streams) to consume.', kind='topics'),
    ParamSpec('every_k', 1, 'Use 1 in k headers of each stream (down-sampling).', 1, 1 << 20),
    ParamSpec('fetch_timeout', 2.0, 'Seconds to wait for one fetch answer.', 0.001, 600.0),
    ParamSpec('fetch_retries', 2, 'Extra fetch attempts after a timeout.', 0, 100),
    ParamSpec('max_in_flight', 8, 'Fetch requests outstanding at once.', 1, 1024),
    ParamSpec('use_shm', True, 'Read same-host payloads from shared memory.'),
    ParamSpec('expect', 0, 'Shut down after this many payloads (0: run until stopped).',
              0, 1 << 40),
    ParamSpec('log_period', 2.0, 'Seconds between progress log lines.', 0.01, 3600.0),
]


class ConsumerNode(Node):
    """Fetches the payloads it keeps and publishes ``LatencyMetrics`` per example."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('consumer_node', **kwargs)
        p = declare_parameters(self, PARAMS)
        if not p['streams'] or not all(p['streams']):
            raise ParameterError(f'{self.get_name()}: streams must list at least one topic')
        self.every_k, self.expect = p['every_k'], p['expect']
        self.fetcher = PayloadFetcher(self, p['fetch_timeout'], p['fetch_retries'],
                                      p['max_in_flight'], p['use_shm'])
        self.tracker = TaskTracker()
        self.seen: Dict[str, int] = {}
        self.skipped = 0
        self.failed: Dict[str, int] = {}
        self.finished = Future()
        group = MutuallyExclusiveCallbackGroup()
        for topic in p['streams']:
            self.create_subscription(PayloadHeader, topic, self._on_header, HEADER_QOS,
                                     callback_group=group)
        self._metrics_pub = self.create_publisher(LatencyMetrics, '/edgeserve/metrics',
                                                  METRICS_QOS)
        self.create_timer(p['log_period'], self._log_progress)

    def _on_header(self, header: PayloadHeader) -> None:
        index = self.seen.get(header.stream, 0)
        self.seen[header.stream] = index + 1
        if index % self.every_k:
            self.skipped += 1
            return
        future = self.fetcher.fetch_async(header)
        future.add_done_callback(lambda f: self._on_payload(f.result()))

    def _on_payload(self, result: FetchResult) -> None:
        if not result.ok:
            self.failed[result.status.name] = self.failed.get(result.status.name, 0) + 1
            self.get_logger().warning(f'{result.header.stream}#{result.header.seq}: '
                                      f'{result.status.name} ({result.reason})')
            return
        now = self.get_clock().now().nanoseconds * 1e-9
        h = result.header
        send = to_sec(h.send_stamp)
        times = ExampleTimes(collected=to_sec(h.header.stamp), send_begin=send, received=now)
        values = self.tracker.record(times)
        msg = LatencyMetrics(stream=h.stream, seq=h.seq, role='consumer',
                             producer_sending=-1.0, consumer_receiving=-1.0,
                             total_communication=values['total_communication'],
                             processing=-1.0, end_to_end=values['end_to_end'],
                             working_duration=values['working_duration'],
                             backlog=values['backlog'], bytes_fetched=result.size,
                             path=result.path)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._metrics_pub.publish(msg)
        if self.expect and self.tracker.examples >= self.expect and not self.finished.done():
            self._log_progress()
            self.finished.set_result(True)

    def _log_progress(self) -> None:
        summary = self.tracker.summary().get('total_communication', {})
        self.get_logger().info(
            f'headers {sum(self.seen.values())}, fetched {self.tracker.examples} '
            f'({self.fetcher.bytes_fetched / 1e6:.1f} MB, paths {self.fetcher.counts}), '
            f'skipped {self.skipped}, failed {self.failed}, total communication p50 '
            f'{summary.get("p50", float("nan")) * 1e3:.2f} ms')


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until shutdown; exit 2 on invalid parameters."""
    return run_node(ConsumerNode, 'consumer_node', args, until='finished')


if __name__ == '__main__':
    sys.exit(main())

"""
``source_node``: publishes a built-in data stream lazily (header topic + fetch service).

Real sensors use :class:`~edgeserve_ros.dataplane.source.PayloadSource` inside their own
node, or ``topic_gateway_node`` to turn an existing topic into a lazy stream.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from rclpy.node import Node

from edgeserve_ros.dataplane.faults import FaultSpec
from edgeserve_ros.dataplane.mcap_log import PayloadLog
from edgeserve_ros.dataplane.source import PayloadSource
from edgeserve_ros.dataplane.stream_params import STREAM_PARAMS, stream_options
from edgeserve_ros.dataplane.synthetic import PATTERNS, synthetic_items
from edgeserve_ros.msg import LatencyMetrics, PayloadHeader, SourceStats
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import METRICS_QOS

PARAMS = STREAM_PARAMS + [
    ParamSpec('stream', 'stream', 'Header topic (= stream name) to publish.', kind='topic'),
    ParamSpec('pattern', 'array', 'Built-in data to publish.', choices=PATTERNS),
    ParamSpec('payload_bytes', 1024, 'Bytes per item (array and bytes patterns).', 1, 1 << 30),
    ParamSpec('rate_hz', 10.0, 'Items published per second.', 0.001, 10000.0),
    ParamSpec('count', 0, 'Items to publish, then stop (0: endless).', 0, 1 << 40),
    ParamSpec('header_delay', 0.0, 'Fault layer: extra delay of every header, s.', 0.0, 60.0),
    ParamSpec('header_jitter', 0.0, 'Fault layer: extra uniform jitter, s.', 0.0, 60.0),
    ParamSpec('header_loss', 0.0, 'Fault layer: probability a header is lost.', 0.0, 1.0),
    ParamSpec('stats_period', 1.0, 'Seconds between SourceStats messages.', 0.01, 3600.0),
    ParamSpec('mcap_path', '', 'Durable MCAP log of every payload ("": no log).', kind='new_file'),
    ParamSpec('mcap_max_bytes', 1 << 30, 'Stop logging past this many payload bytes.',
              0, 1 << 40),
    ParamSpec('publish_metrics', True, 'Publish producer sending latency per item.'),
    ParamSpec('seed', 0, 'Seed of the built-in data and the fault layer.', 0, 1 << 31),
]


class SourceNode(Node):
    """Publishes ``pattern`` items at ``rate_hz`` on ``stream``; serves ``~/fetch``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('source_node', **kwargs)
        p = declare_parameters(self, PARAMS)
        self.log = self._open_log(p['mcap_path'], p['mcap_max_bytes'])
        fault = FaultSpec(p['header_delay'], p['header_jitter'], p['header_loss'], p['seed'])
        options = stream_options(p, header_fault=fault, log=self.log)
        self.source = PayloadSource(self)
        items = synthetic_items(p['pattern'], p['payload_bytes'], p['count'], p['seed'])
        self.done = False
        self.stream = self.source.register_iterable(p['stream'], items, 1.0 / p['rate_hz'],
                                                    options, on_done=self._on_done)
        self._stats_pub = self.create_publisher(SourceStats, '/edgeserve/source_stats',
                                                METRICS_QOS)
        self._metrics_pub = self.create_publisher(LatencyMetrics, '/edgeserve/metrics',
                                                  METRICS_QOS)
        if p['publish_metrics']:
            self.stream.on_sent = self._on_sent
        self.create_timer(p['stats_period'], self._publish_stats)
        self.get_logger().info(
            f'streaming {p["pattern"]} on {self.stream.name} at {p["rate_hz"]} Hz '
            f'({p["delivery"]}), fetch service {self.source.service_name}')

    def _open_log(self, path: str, max_bytes: int) -> Optional[PayloadLog]:
        if not path:
            return None
        try:
            return PayloadLog(path, max_bytes)
        except OSError as exc:
            raise ParameterError(f'{self.get_name()}: parameter mcap_path: cannot create '
                                 f'{path!r}: {exc.strerror}') from None
        except ImportError as exc:
            raise ParameterError(f'{self.get_name()}: parameter mcap_path: the log needs '
                                 f'mcap-ros2-support ({exc})') from None

    def _on_done(self) -> None:
        if not self.done:
            self.done = True
            self.get_logger().info(f'{self.stream.name}: published {self.stream.published} '
                                   f'items, done')

    def _on_sent(self, header: PayloadHeader, seconds: float) -> None:
        msg = LatencyMetrics(stream=header.stream, seq=header.seq, role='producer',
                             producer_sending=seconds, consumer_receiving=-1.0,
                             total_communication=-1.0, processing=-1.0, end_to_end=-1.0,
                             working_duration=-1.0, backlog=-1.0)
        msg.header.stamp = header.send_stamp
        self._metrics_pub.publish(msg)

    def _publish_stats(self) -> None:
        ring, stats = self.stream.ring, self.stream.ring.stats
        msg = SourceStats(stream=self.stream.name, published=self.stream.published,
                          stored_bytes=stats.stored_bytes, capacity_bytes=ring.capacity,
                          stored_items=len(ring), evicted=stats.evicted, expired=stats.expired,
                          rejected_too_large=stats.rejected_too_large,
                          fetch_requests=self.source.fetches.requests,
                          fetch_ok=self.source.fetches.ok,
                          fetch_failed=self.source.fetches.failed)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._stats_pub.publish(msg)

    def destroy_node(self) -> None:
        """Release the payload rings, then the node."""
        self.source.close()
        if self.log is not None:
            self.log.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until shutdown; exit 2 on invalid parameters."""
    return run_node(SourceNode, 'source_node', args)


if __name__ == '__main__':
    sys.exit(main())

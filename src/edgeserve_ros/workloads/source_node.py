"""
``workload_source``: plays one part of a workload back as a lazy stream (paper §6.4, §6.5).

HAR rows of one column group (or all 134 columns), NIDS flows of one source host or QR
frames of one camera are published at the workload's natural rate times ``speed``, each
stamped with its collection time (:mod:`.playback`: parts given the same ``start_time``
play in lockstep). The ground truth goes on ``labels_topic`` (give it to one part only when
the parts describe the same examples, as HAR's column groups do). The
node stops after ``count`` items or at the end of the run and logs a summary.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import Header

from edgeserve_ros.dataplane.codec import PayloadError
from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.faults import FaultSpec
from edgeserve_ros.dataplane.images import ImageFrame
from edgeserve_ros.dataplane.ring import PayloadTooLarge
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.dataplane.stream_params import HEADER_LIFESPAN
from edgeserve_ros.ros.account import AccountPublisher
from edgeserve_ros.ros.qos import START_QOS
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.timeconv import to_sec
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.workloads.playback import (default_stream, natural_rate, Part, Schedule,
                                              WORKLOADS)

PARAMS = [
    ParamSpec('workload', 'har', 'Workload to play back.', choices=WORKLOADS),
    ParamSpec('part', 0, 'HAR column group 0-3 (-1: all 134 columns), NIDS source 0-3 or '
              'QR camera 0-1.', -1, 3),
    ParamSpec('stream', '', "Topic (= stream name) ('' = <workload>/<part name>).", kind='topic'),
    ParamSpec('speed', 2.0, 'Playback speed (2.0 as in the paper).', 0.001, 1000.0),
    ParamSpec('rate_hz', 0.0, 'Items per second (0: natural rate x speed).', 0.0, 100000.0),
    ParamSpec('count', 0, 'Items to publish, then stop (0: the whole run).', 0, 1 << 40),
    ParamSpec('seed', 0, 'Seed of the workload data (and the fault layer).', 0, 1 << 31),
    ParamSpec('start_time', 0.0, 'Node-clock time of item 0, s (0: now); give the parts of '
              'one workload the same value so their stamps line up.', 0.0, 1e12),
    ParamSpec('start_topic', '', "Wait for a std_msgs/Header on this topic; its stamp is "
              "the start time (a launcher's barrier: all sources start together). '' = no.",
              kind='topic'),
    ParamSpec('wait_subscribers', 0, "Publish no item before this many subscriptions matched "
              "the stream's header writer; the account says when they have (ready 1), which a "
              "launcher's barrier waits for: the graph it sees is not the writer's own match.",
              0, 4096),
    ParamSpec('start_offset', 0.0, 'Seconds added to the start time (distinct stamps for '
              'independent sources).', -3600.0, 3600.0),
    ParamSpec('delivery', 'lazy', 'Payload delivery mode.', choices=('lazy', 'eager', 'auto')),
    ParamSpec('labels_topic', '/edgeserve/labels', "Ground-truth label stream ('' = none).",
              kind='topic', optional=True),
    ParamSpec('header_delay', 0.0, 'Fault layer: extra delay of every header, s.', 0.0, 60.0),
    ParamSpec('capacity_bytes', 256 << 20, 'Byte budget of the payload ring.', 4096, 1 << 36),
    ParamSpec('ttl', 10.0, 'Seconds a payload stays fetchable.', 0.001, 86400.0),
    ParamSpec('use_shm', True, 'Keep payloads in shared memory for same-host consumers.'),
    HEADER_LIFESPAN,
]
_MAX_LAG = 0.5  # items due longer ago are skipped, as by a real-time sensor


class WorkloadSource(Node):
    """Publishes one workload part on ``stream`` (and labels); serves ``~/fetch``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('workload_source', **kwargs)
        p = declare_parameters(self, PARAMS)
        self.workload = p['workload']
        try:
            topic = p['stream'] or default_stream(self.workload, p['part'])
            self.part = Part(self.workload, p['part'], p['seed'])
        except ValueError as exc:
            raise ParameterError(f'{self.get_name()}: {exc}') from None
        rate = p['rate_hz'] or natural_rate(self.workload) * p['speed']
        now = self._now()
        self._plan = (1.0 / rate, self.part.period, self.part.size, p['count'], _MAX_LAG,
                      self.part.lag)
        self.schedule: Optional[Schedule] = None
        self._offset, self._subscribers = p['start_offset'], p['wait_subscribers']
        self._matched = self._subscribers == 0
        if p['start_topic']:
            self.create_subscription(Header, p['start_topic'], self._on_start, START_QOS)
        else:
            self.schedule = Schedule((p['start_time'] or now) + p['start_offset'], *self._plan)
        self.source = PayloadSource(self)
        self.stream = self.source.add_stream(topic, StreamOptions(
            capacity_bytes=p['capacity_bytes'], ttl=p['ttl'],
            delivery=DeliveryMode.parse(p['delivery']), use_shm=p['use_shm'],
            header_fault=FaultSpec(p['header_delay'], seed=p['seed']),
            header_lifespan=p['header_lifespan']))
        self.labels = None
        if p['labels_topic']:
            self.labels = self.source.add_stream(p['labels_topic'], StreamOptions(
                capacity_bytes=4 << 20, ttl=p['ttl'], delivery=DeliveryMode.AUTO,
                use_shm=False))
        self.published = self.failed = 0
        self.account = AccountPublisher(self, 'source', lambda: dict(
            published=self.published, failed=self.failed,
            skipped_late=self.schedule.skipped if self.schedule else 0,
            finished=int(self.finished.done()), ready=int(self.ready())))
        self.finished = Future()  # every item published
        self.expired = Future()  # and every payload past its TTL: nothing left to serve
        self._ttl = p['ttl']
        self._began = now
        self._timer = self.create_timer(min(0.01, max(0.001, 1.0 / rate)), self._on_timer)
        self.get_logger().info(
            f'{self.workload} part {p["part"]} ({self.part.size} items) on {self.stream.name} '
            f'at {rate:.1f} Hz ({p["delivery"]}), labels '
            f'{self.labels.name if self.labels else "off"}, starting at '
            f'{self.schedule.start if self.schedule else p["start_topic"]} (now {now:.3f})')

    def _on_start(self, msg: Header) -> None:
        if self.schedule is None:
            self.schedule = Schedule(to_sec(msg.stamp) + self._offset, *self._plan)
            self._began = self._now()

    def ready(self) -> bool:
        """Whether the header writer has matched ``wait_subscribers`` (once is enough)."""
        self._matched = self._matched or self.stream.matched() >= self._subscribers
        return self._matched

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_timer(self) -> None:
        if self.schedule is None:
            return  # waiting for the start message
        if not self.ready():
            return  # items falling due meanwhile are published late or skipped, counted
        for index in self.schedule.due(self._now()):
            item = self.part.item(index)
            stamp_ns = int(round(self.schedule.stamp(index) * 1e9))
            value = (ImageFrame(item.value, 'mono8') if self.workload == 'qr'
                     else item.value)
            try:
                self.stream.publish(value, stamp_ns=stamp_ns)
                self.published += 1
            except (PayloadError, PayloadTooLarge) as exc:
                self.failed += 1
                self.get_logger().error(f'item {index} dropped: {exc}')
            if self.labels is not None:
                self.labels.publish({'label': item.label, 'workload': self.workload},
                                    stamp_ns=stamp_ns)
        if self.schedule.done and not self.finished.done():
            self._timer.cancel()
            ring = self.stream.ring.stats
            self.get_logger().info(
                f'{self.stream.name}: done, published {self.published} of '
                f'{self.schedule.end} items in {self._now() - self._began:.2f} s (skipped '
                f'{self.schedule.skipped} late, failed {self.failed}, evicted {ring.evicted}), '
                f'{self.source.fetch_requests} fetch requests')
            self.finished.set_result(True)
            self.account.flush()
            # keep serving lazy fetches until the last payload expires (a slow link may
            # still be fetching it), then let main() exit
            self._expiry = self.create_timer(self._ttl, self._on_expired)

    def _on_expired(self) -> None:
        self._expiry.cancel()
        if not self.expired.done():
            self.expired.set_result(True)

    def destroy_node(self) -> None:
        """Release the payload rings, then the node."""
        self.source.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Play the part, serve fetches until the payloads expire, exit; 2 on invalid parameters."""
    return run_node(WorkloadSource, 'workload_source', args, until='expired', linger=1.0)


if __name__ == '__main__':
    sys.exit(main())

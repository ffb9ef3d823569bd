"""
``sync_node``: timer-driven, bounded-skew synchronization of payload header streams.

Subscribes to ``PayloadHeader`` topics, feeds :class:`~edgeserve_ros.sync.core.Synchronizer`
with ``(stream, seq, header.stamp, arrival = node clock)`` and advances it on a timer of the
node clock (so ``use_sim_time`` works), publishing one ``SyncedTuple`` per tick on
``output_topic`` (paper section 5). With ``fetch_payloads`` the payloads of the members used
are fetched -- each ``(stream, seq)`` once: reused members get the cached payload.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
import math
import sys
from typing import Any, Dict, List, Optional

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from edgeserve_ros.dataplane.fetcher import FetchResult, PayloadFetcher
from edgeserve_ros.msg import PayloadHeader, SyncedTuple
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import HEADER_QOS, OUTPUT_QOS
from edgeserve_ros.ros.timeconv import to_sec
from edgeserve_ros.sync.config import CLOCK_MODES, POLICIES, StreamSpec, SyncConfig
from edgeserve_ros.sync.core import Synchronizer
from edgeserve_ros.sync.tuples import Done, PayloadAssembler, timer_period, tuple_message
from edgeserve_ros.sync.types import HeaderEvent, SyncTuple

PARAMS = [
    ParamSpec('streams', ['stream'], 'Required header topics (streams), in output order.',
              kind='topics'),
    ParamSpec('optional_streams', [''], 'Header topics attached when available; they never '
              'hold a tuple back (empty entries are ignored).', kind='topics'),
    ParamSpec('period', 0.1, 'Target output period, s (> 0).', 0.0, 3600.0),
    ParamSpec('max_skew', 0.05, 'Bound on the stamp span of fresh members, and the longest '
              'a tuple waits for late headers, s.', 0.0, 3600.0),
    ParamSpec('max_age', 1.0, 'No member is older than this at its tick, s.', 0.0, 1e9),
    ParamSpec('policy', 'impute', 'What to do with late or missing streams.', choices=POLICIES),
    ParamSpec('queue_size', 64, 'Headers buffered per stream before the oldest is dropped.',
              1, 1 << 20),
    ParamSpec('clock_correction', 'none', 'Per-source clock offset estimation.',
              choices=CLOCK_MODES),
    ParamSpec('fetch_payloads', False, 'Fetch the payloads of the members used.'),
    ParamSpec('fetch_timeout', 2.0, 'Seconds to wait for one fetch answer.', 0.001, 600.0),
    ParamSpec('output_topic', 'synced', 'Topic of the SyncedTuple messages.', kind='topic'),
]


class SyncNode(Node):
    """Publishes one ``SyncedTuple`` per tick of ``period`` from its header streams."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('sync_node', **kwargs)
        p = declare_parameters(self, PARAMS)
        required = [self.resolve_topic_name(s) for s in p['streams'] if s]
        optional = [self.resolve_topic_name(s) for s in p['optional_streams'] if s]
        try:
            self.config = SyncConfig(
                period=p['period'], max_skew=p['max_skew'], max_age=p['max_age'],
                policy=p['policy'], queue_size=p['queue_size'], clock=p['clock_correction'],
                streams=tuple([StreamSpec(s) for s in required]
                              + [StreamSpec(s, required=False) for s in optional]))
        except ValueError as exc:
            raise ParameterError(f'{self.get_name()}: {exc}') from None
        self.sync: Optional[Synchronizer] = None
        self.published = 0
        self._start = 0.0
        self._keep = 2 * p['queue_size'] + 4
        self._headers: Dict[str, 'OrderedDict[int, PayloadHeader]'] = {
            s: OrderedDict() for s in self.config.names}
        self._pub = self.create_publisher(SyncedTuple, p['output_topic'], OUTPUT_QOS)
        self.fetcher: Optional[PayloadFetcher] = None
        self.assembler: Optional[PayloadAssembler] = None
        if p['fetch_payloads']:
            self.fetcher = PayloadFetcher(self, p['fetch_timeout'])
            self.assembler = PayloadAssembler(self._publish)
        group = MutuallyExclusiveCallbackGroup()  # the core is single-threaded
        for topic in self.config.names:
            self.create_subscription(PayloadHeader, topic, partial(self._on_header, topic),
                                     HEADER_QOS, callback_group=group)
        self.create_timer(timer_period(self.config.period, self.config.max_skew),
                          self._on_timer, callback_group=group)
        self.get_logger().info(
            f'synchronizing {", ".join(self.config.names)} every {self.config.period} s '
            f'(max_skew {self.config.max_skew} s, {self.config.policy}) on '
            f'{self._pub.topic_name}')

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _ensure(self, now: float) -> Optional[Synchronizer]:
        """Start the synchronizer once the clock runs (sim time may still be 0)."""
        if self.sync is None and now > 0:
            self._start = math.ceil(now / self.config.period) * self.config.period
            self.sync = Synchronizer(self.config, self._start)
        return self.sync

    def _on_header(self, topic: str, header: PayloadHeader) -> None:
        now = self._now()
        sync = self._ensure(now)
        if sync is None:
            return
        kept = self._headers[topic]
        kept[header.seq] = header
        kept.move_to_end(header.seq)
        while len(kept) > self._keep:
            kept.popitem(last=False)
        sync.add(HeaderEvent(topic, header.seq, to_sec(header.header.stamp), now))
        self._emit(sync.advance(now))

    def _on_timer(self) -> None:
        now = self._now()
        sync = self._ensure(now)
        if sync is not None:
            self._emit(sync.advance(now))

    def _emit(self, tuples: List[SyncTuple]) -> None:
        for t in tuples:
            index = int(round((t.tick - self._start) / self.config.period))
            msg = tuple_message(t, index, self._headers)
            if self.assembler is None or self.fetcher is None:
                self._publish(msg)
                continue
            for header, done in self.assembler.submit(msg):
                future = self.fetcher.fetch_async(header)
                future.add_done_callback(lambda f, d=done: self._fetched(f.result(), d))

    def _fetched(self, result: FetchResult, done: Done) -> None:
        if not result.ok:
            self.get_logger().warning(f'{result.header.stream}#{result.header.seq}: '
                                      f'{result.status.name} ({result.reason})')
        done(result.data if result.ok else None)

    def _publish(self, msg: SyncedTuple) -> None:
        self._pub.publish(msg)
        self.published += 1


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until shutdown; exit 2 on invalid parameters."""
    return run_node(SyncNode, 'sync_node', args)


if __name__ == '__main__':
    sys.exit(main())

"""
``shared_queue``: EdgeServe's ``shared_queue()`` operator as a node (paper §4.2, §6.5).

Inputs (``SyncedTuple`` or ``PayloadHeader`` messages) go into a bounded
:class:`~edgeserve_ros.models.shared_queue.ShardQueue`. Workers lease them with the ``~/pull``
service (a pull is also a heartbeat for the items it lists as held) and answer on
``~/results``; items a worker's pull no longer lists as held are re-sent at once, and those
of a worker that stops pulling and answering after ``lease_timeout``. Results are
deduplicated by item id, so every item's prediction is published exactly once on
``output_stream`` (in order of completion).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from typing import Any, Dict, Hashable, List, Optional

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.inline import Inliner
from edgeserve_ros.dataplane.shm import host_id
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.models.shared_queue import ShardQueue
from edgeserve_ros.msg import PayloadHeader, SyncedTuple, WorkItem, WorkResult
from edgeserve_ros.ros.account import AccountPublisher
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import HEADER_QOS
from edgeserve_ros.srv import PullWork

PARAMS = [
    ParamSpec('input', 'synced', 'Input topic (SyncedTuple or PayloadHeader, see input_kind).',
              kind='topic'),
    ParamSpec('more_inputs', [''], 'Further PayloadHeader topics (input_kind stream): every '
              'header of every input topic is one example.', kind='topics'),
    ParamSpec('input_kind', 'tuple', 'Input message type.', choices=('tuple', 'stream')),
    ParamSpec('lease_timeout', 1.0, 'Seconds a worker may hold an item without pulling or '
              'answering before the item is re-sent.', 0.001, 3600.0),
    ParamSpec('capacity', 1024, 'Queued (not leased) items kept at most.', 1, 1 << 24),
    ParamSpec('drop', 'oldest', 'Item dropped when the queue is full.',
              choices=('oldest', 'newest')),
    ParamSpec('max_pull', 64, 'Upper bound on items per pull.', 1, 4096),
    ParamSpec('inline_bytes', 16 << 20, 'Payload bytes a pull answer may carry inline: lazy '
              'stream inputs in shared memory on this host go with the answer to a worker on '
              'another host, which then needs no fetch round trip (0: headers only; tuple '
              'inputs always go as headers).', 0, 1 << 30),
    ParamSpec('output_stream', 'predictions', 'Prediction stream (deduplicated).', kind='topic'),
    ParamSpec('stats_period', 2.0, 'Seconds between stats log lines and ~/stats payloads.',
              0.01, 3600.0),
    ParamSpec('expect', 0, 'Tell workers to stop (shutting_down) and exit after this many '
              'predictions (0: run until stopped).', 0, 1 << 40),
]


class SharedQueueNode(Node):
    """Leases inputs to pulling workers and publishes their deduplicated predictions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('shared_queue', **kwargs)
        p = declare_parameters(self, PARAMS)
        if not p['input'] or not p['output_stream']:
            raise ParameterError(f'{self.get_name()}: input and output_stream must be topics')
        self.queue = ShardQueue(p['capacity'], p['lease_timeout'], p['drop'])
        self.kind = WorkItem.KIND_TUPLE if p['input_kind'] == 'tuple' else WorkItem.KIND_STREAM
        self.max_pull, self.expect = p['max_pull'], p['expect']
        self.inliner = Inliner(host_id(), p['inline_bytes'])
        self.counts: Dict[str, int] = dict.fromkeys(('published', 'failed', 'bad_results'), 0)
        self.account = AccountPublisher(self, 'queue', lambda: {
            k: v for k, v in self.stats().items() if isinstance(v, int)})
        self.per_worker: Dict[str, int] = {}
        self.shutting_down = False
        self.finished = Future()
        self._ids = itertools.count()
        group = MutuallyExclusiveCallbackGroup()  # the ShardQueue is single-threaded
        msg_type = SyncedTuple if self.kind == WorkItem.KIND_TUPLE else PayloadHeader
        for topic in [p['input']] + [t for t in p['more_inputs'] if t]:
            self.create_subscription(msg_type, topic, self._on_input, HEADER_QOS,
                                     callback_group=group)
        self.create_service(PullWork, '~/pull', self._on_pull, callback_group=group)
        self.create_subscription(WorkResult, '~/results', self._on_result, HEADER_QOS,
                                 callback_group=group)
        self.create_timer(min(0.05, p['lease_timeout'] / 4), self._on_expire,
                          callback_group=group)
        self.create_timer(p['stats_period'], self._on_stats, callback_group=group)
        self.source = PayloadSource(self)
        opts = StreamOptions(capacity_bytes=8 << 20, ttl=30.0, delivery=DeliveryMode.AUTO,
                             use_shm=False)
        self.output = self.source.add_stream(p['output_stream'], opts)
        self.stats_stream = self.source.add_stream('~/stats', StreamOptions(
            capacity_bytes=1 << 20, delivery=DeliveryMode.AUTO, use_shm=False))
        self.get_logger().info(
            f'queue on {self.resolve_topic_name(p["input"])} ({p["input_kind"]}), lease '
            f'{p["lease_timeout"]} s, capacity {p["capacity"]}; pull '
            f'{self.resolve_service_name("~/pull")}, predictions on {self.output.name}')

    def _on_input(self, msg: Any) -> None:
        stamp = msg.header.stamp
        join_key = f'{stamp.sec * 1_000_000_000 + stamp.nanosec}'
        self.queue.put(next(self._ids), msg, time.monotonic(), join_key)

    def _on_pull(self, request: PullWork.Request,
                 response: PullWork.Response) -> PullWork.Response:
        now = time.monotonic()
        response.shutting_down = self.shutting_down
        if self.shutting_down or not request.worker:
            return response
        released = self.queue.heartbeat(request.worker, now, request.holding, release=True)
        if released:  # dropped by the worker or its answer lost: re-sent now, not at expiry
            self.get_logger().warning(f're-sending {len(released)} item(s) that '
                                      f'{request.worker} no longer holds')
        wanted = max(1, min(int(request.max_items), self.max_pull))
        self.inliner.start(request.host_id)
        for lease in self.queue.pull(request.worker, now, wanted):
            item = WorkItem(id=lease.item_id, join_key=lease.join_key, attempt=lease.attempt,
                            kind=self.kind)
            if self.kind == WorkItem.KIND_TUPLE:
                item.tuple = lease.payload
            else:
                item.header = self.inliner.header(lease.payload)
            response.items.append(item)
        return response

    def _on_result(self, msg: WorkResult) -> None:
        now = time.monotonic()
        self.queue.heartbeat(msg.worker, now)  # alive; its other leases are not extended
        result: Optional[Dict[str, Any]] = None
        if msg.ok:
            try:
                result = json.loads(msg.prediction_json)
                if not isinstance(result, dict):
                    raise ValueError('not a JSON object')
            except ValueError as exc:
                self.counts['bad_results'] += 1
                self.get_logger().warning(f'item {msg.id} from {msg.worker}: bad prediction '
                                          f'JSON ({exc}); waiting for a re-send')
                return
        self.queue.complete(msg.worker, msg.id, (result, msg.reason), now)
        for item_id, (prediction, reason), worker in self.queue.drain_results():
            self._deliver(item_id, prediction, reason, str(worker))

    def _deliver(self, item_id: Hashable, prediction: Optional[Dict[str, Any]], reason: str,
                 worker: str) -> None:
        if prediction is None:
            self.counts['failed'] += 1
            self.get_logger().warning(f'item {item_id} failed on {worker}: {reason}')
        else:
            prediction['worker'] = worker
            tick = prediction.get('tick')
            stamp_ns = int(round(tick * 1e9)) if isinstance(tick, (int, float)) else None
            self.output.publish(prediction, stamp_ns=stamp_ns)
            self.counts['published'] += 1
            self.per_worker[worker] = self.per_worker.get(worker, 0) + 1
        done = self.counts['published'] + self.counts['failed']
        if self.expect and done >= self.expect and not self.shutting_down:
            self.shutting_down = True
            self._on_stats()
            self.create_timer(0.5, self._finish)  # workers see shutting_down meanwhile

    def _finish(self) -> None:
        if not self.finished.done():
            self.finished.set_result(True)

    def _on_expire(self) -> None:
        resent = self.queue.expire(time.monotonic())
        if resent:
            self.get_logger().warning(f're-sending {len(resent)} item(s) after lease timeout')

    def stats(self) -> Dict[str, Any]:
        """Return the queue counters (also logged and published on ``~/stats``)."""
        s = self.queue.stats
        return dict(queued=self.queue.queued_count(), leased=self.queue.leased_count(),
                    accepted=s['accepted'], resent=s['resent'], released=s['released'],
                    duplicates=s['duplicate_results'], dropped=s['dropped_full'],
                    unknown=s['unknown_results'], workers=dict(self.per_worker), **self.counts,
                    **self.inliner.counts)

    def _on_stats(self) -> None:
        stats = self.stats()
        self.stats_stream.publish(stats)
        self.get_logger().info(' '.join(f'{k} {v}' for k, v in stats.items()))

    def destroy_node(self) -> None:
        """Release the prediction rings and the maps of the inlined rings, then the node."""
        self.source.close()
        self.inliner.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run until shutdown (or ``expect`` predictions); exit 2 on invalid parameters."""
    return run_node(SharedQueueNode, 'shared_queue', args, until='finished')


if __name__ == '__main__':
    sys.exit(main())

"""
``model_node``: a model applied to a stream or to synchronized tuples (paper §3.2.2).

Direct mode: subscribes to ``input`` (``SyncedTuple`` from a sync_node, or a
``PayloadHeader`` stream), fetches the payloads of the members the model actually uses --
each ``(stream, seq)`` once: reused and imputed members repeating the last header get the
cached payload, missing members are left to the model's fill policy -- micro-batches the
inputs (``max_batch``/``max_delay`` on the node clock), predicts, and publishes one
prediction stream JSON object per input (stamped with the input's tick/stamp) on
``output_stream``, plus ``LatencyMetrics`` (role ``model``) on ``/edgeserve/metrics``.
Shared-queue workers are ``queue_worker`` nodes; both run :mod:`.prediction`.

A managed node (:mod:`edgeserve_ros.ros.lifecycle`): ``configure`` loads the model and opens
the prediction ring, ``activate`` subscribes to the inputs; ``autostart:=false`` waits for
``ros2 lifecycle set``.
"""

from __future__ import annotations

from collections import deque
import math
import sys
from typing import Any, Deque, Dict, List, Optional

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.timer import Timer

from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.fetcher import PayloadFetcher
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.models.admission import Admission
from edgeserve_ros.models.batching import MicroBatcher
from edgeserve_ros.models.prediction import (InputBinding, load_named_model, model_inputs,
                                             ModelSelectError, predict_tuples)
from edgeserve_ros.models.tuple_inputs import model_latency, ready_input, ReadyInput
from edgeserve_ros.msg import LatencyMetrics, PayloadHeader, SyncedTuple, SyncMember
from edgeserve_ros.ros.account import AccountPublisher
from edgeserve_ros.ros.lifecycle import AUTOSTART, autostart, ManagedNode, step
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import HEADER_QOS, METRICS_QOS
from edgeserve_ros.sync.tuples import PayloadAssembler

PARAMS = [
    ParamSpec('model_file', '', 'YAML file with a `models:` list (see models.loaders).',
              kind='file'),
    ParamSpec('model', '', "Model name in model_file ('' if the file holds one model)."),
    ParamSpec('input', 'synced', 'Input topic (SyncedTuple or PayloadHeader, see input_kind).',
              kind='topic'),
    ParamSpec('more_inputs', [''], 'Further PayloadHeader topics (input_kind stream): every '
              'header of every input topic is one example.', kind='topics'),
    ParamSpec('input_kind', 'tuple', 'Input message type.', choices=('tuple', 'stream')),
    ParamSpec('output_stream', 'predictions', 'Prediction stream topic.', kind='topic'),
    ParamSpec('max_batch', 1, 'Predict as soon as this many inputs wait.', 1, 4096),
    ParamSpec('max_delay', 0.0, 'Longest an input waits for a fuller batch, s.', 0.0, 60.0),
    ParamSpec('fetch_timeout', 2.0, 'Seconds to wait for one fetch answer.', 0.001, 600.0),
    ParamSpec('max_pending', 0, 'Inputs being fetched or waiting for the model at once; past '
              'it only the newest input waits, older ones are skipped unfetched (counted). '
              '0: no bound, every input is predicted.', 0, 1 << 20),
    ParamSpec('log_period', 5.0, 'Seconds between progress log lines.', 0.01, 3600.0),
    AUTOSTART,
]


class ModelNode(ManagedNode):
    """Fetches what the model uses, micro-batches, predicts, publishes predictions."""

    def __init__(self, **kwargs: Any) -> None:
        self.source: Optional[PayloadSource] = None
        super().__init__('model_node', self._setup, **kwargs)

    def _setup(self) -> None:
        p = self.p = declare_parameters(self, PARAMS)
        name = self.get_name()
        if not p['input'] or not p['output_stream']:
            raise ParameterError(f'{name}: input and output_stream must be topics')
        if 0 < p['max_pending'] < p['max_batch']:
            raise ParameterError(f'{name}: max_pending ({p["max_pending"]}) must be 0 or >= '
                                 f'max_batch ({p["max_batch"]})')
        self.stream_kind = p['input_kind'] == 'stream'
        self.batcher = MicroBatcher(p['max_batch'], p['max_delay'])
        self.admission: Admission[SyncedTuple] = Admission(p['max_pending'])
        self.account = AccountPublisher(self, 'model', lambda: dict(
            self.counts, skipped=self.admission.skipped))
        self.counts = dict.fromkeys(('inputs', 'predictions', 'errors', 'unused',
                                     'fetch_failed'), 0)
        self.latency: Dict[str, List[float]] = {'processing': [], 'end_to_end': []}
        self._ready: Deque[SyncedTuple] = deque()
        self._first: Optional[float] = None
        self._inputs: List[Any] = []  # subscriptions and timers of the active state
        if p['autostart']:
            autostart(self)

    # -- lifecycle: configure loads the model and opens the rings, activate subscribes ----

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model; create the fetcher, the prediction ring and the publishers."""
        return step(self, self._configure)

    def _configure(self) -> None:
        p = self.p
        try:
            self.model_name, self.model = load_named_model(p['model_file'], p['model'])
        except ModelSelectError as exc:
            raise ParameterError(f'{self.get_name()}: {exc}') from None
        self.binding = InputBinding(model_inputs(self.model))
        self.fetcher = PayloadFetcher(self, p['fetch_timeout'])
        self.assembler = PayloadAssembler(self._on_assembled)
        self._model_group = MutuallyExclusiveCallbackGroup()  # the model runs on one thread
        self._guard = self.create_guard_condition(self._drain, callback_group=self._model_group)
        self._log_timer = self.create_timer(p['log_period'], self._log_progress)
        self.source = PayloadSource(self)
        self.output = self.source.add_stream(p['output_stream'], StreamOptions(
            capacity_bytes=8 << 20, ttl=30.0, delivery=DeliveryMode.AUTO, use_shm=False))
        self._metrics = self.create_publisher(LatencyMetrics, '/edgeserve/metrics', METRICS_QOS)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the inputs: predictions start."""
        return step(self, self._activate)

    def _activate(self) -> None:
        p, group = self.p, MutuallyExclusiveCallbackGroup()
        msg_type = PayloadHeader if self.stream_kind else SyncedTuple
        self._inputs = [self.create_subscription(msg_type, topic, self._on_input, HEADER_QOS,
                                                 callback_group=group)
                        for topic in [p['input']] + [t for t in p['more_inputs'] if t]]
        if p['max_delay'] > 0:
            self._inputs.append(self.create_timer(max(0.001, p['max_delay'] / 4), self._drain,
                                                  callback_group=self._model_group))
        self.get_logger().info(
            f'model {self.model_name} on {self.resolve_topic_name(p["input"])} '
            f'({p["input_kind"]}), batches of <= {p["max_batch"]} within {p["max_delay"]} s, '
            f'predictions on {self.output.name}')

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe; inputs already taken are still predicted."""
        for entity in self._inputs:
            if isinstance(entity, Timer):
                self.destroy_timer(entity)
            else:
                self.destroy_subscription(entity)
        self._inputs = []
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model's rings and fetcher (configure builds them again)."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop whatever state the node is in."""
        self.on_deactivate(state)
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        if self.source is not None:
            self.destroy_guard_condition(self._guard)
            self.destroy_timer(self._log_timer)
            self.destroy_publisher(self._metrics)
            self.source.close()
            self.fetcher.close()
            self.source = None

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_input(self, msg: Any) -> None:
        if self.stream_kind:
            header: PayloadHeader = msg
            msg = SyncedTuple(header=header.header, members=[SyncMember(
                stream=header.stream, present=True, state=SyncMember.STATE_FRESH,
                seq=header.seq, stamp=header.header.stamp, payload_header=header)])
        used = [m for m in msg.members if m.present and self._usable(m)
                and self.binding(m.stream, self.stream_kind) is not None]
        self.counts['inputs'] += 1
        if not used:
            self.counts['unused'] += 1
            return
        sub = SyncedTuple(header=msg.header, tick=msg.tick, emit_time=msg.emit_time,
                          skew=msg.skew, members=used)
        admitted = self.admission.offer(sub)
        if admitted is not None:
            self._start(admitted)

    def _start(self, sub: SyncedTuple) -> None:
        """Fetch what ``sub`` lacks; it joins the model's queue once assembled."""
        if all(m.payload_fetched for m in sub.members):  # the sync node fetched them already
            self._on_assembled(sub)
            return
        for header, done in self.assembler.submit(sub):
            future = self.fetcher.fetch_async(header)
            future.add_done_callback(lambda f, d=done: d(f.result().data if f.result().ok
                                                         else None))

    @staticmethod
    def _usable(member: SyncMember) -> bool:
        h = member.payload_header
        return member.payload_fetched or bool(h.fetch_service) or (
            h.delivery == PayloadHeader.DELIVERY_EAGER)

    def _on_assembled(self, msg: SyncedTuple) -> None:
        self._ready.append(msg)
        self._guard.trigger()

    def _prepare(self, msg: SyncedTuple) -> ReadyInput:
        ready = ready_input(msg, self.binding, self.stream_kind, self.get_logger().warning)
        self.counts['fetch_failed'] += ready.unfetched
        return ready

    def _drain(self) -> None:
        while self._ready:
            batch = self.batcher.add(self._prepare(self._ready.popleft()), self._now())
            if batch:
                self._run(batch)
        batch = self.batcher.due(self._now())
        if batch:
            self._run(batch)

    def _run(self, batch: List[ReadyInput]) -> None:
        results = predict_tuples(self.model, [b.inputs for b in batch],
                                 [b.provenance for b in batch], self.model_name)
        now = self._now()
        for _ in batch:
            admitted = self.admission.done()
            if admitted is not None:
                self._start(admitted)
        for item, result in zip(batch, results):
            if 'error' in result:
                self.counts['errors'] += 1
                self.get_logger().warning(f'tick {result["tick"]:.3f}: {result["error"]}',
                                          throttle_duration_sec=2.0)
                continue
            header = self.output.publish(result, stamp_ns=int(round(result['tick'] * 1e9)))
            self.counts['predictions'] += 1
            end_to_end = now - item.oldest if math.isfinite(item.oldest) else -1.0
            if self._first is None and math.isfinite(item.oldest):
                self._first = item.oldest
            self.latency['processing'].append(result['processing_s'])
            self.latency['end_to_end'].append(end_to_end)
            msg = model_latency(self.output.name, header.seq if header else 0,
                                result['processing_s'], end_to_end,
                                now - self._first if self._first is not None else -1.0)
            msg.header.stamp = self.get_clock().now().to_msg()
            self._metrics.publish(msg)

    def _log_progress(self) -> None:
        p50 = {k: sorted(v)[len(v) // 2] * 1e3 if v else math.nan
               for k, v in self.latency.items()}
        self.get_logger().info(
            f'{self.model_name}: ' + ', '.join(f'{k} {v}' for k, v in self.counts.items())
            + f', skipped {self.admission.skipped}'
            + f', fetches {self.assembler.fetches} ({self.fetcher.counts}), processing p50 '
            f'{p50["processing"]:.2f} ms, end-to-end p50 {p50["end_to_end"]:.2f} ms')
        for values in self.latency.values():
            del values[:-1000]

    def destroy_node(self) -> None:
        """Release the prediction ring and the fetcher, then the node."""
        self._release()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until shutdown; exit 2 on invalid parameters."""
    return run_node(ModelNode, 'model_node', args)


if __name__ == '__main__':
    sys.exit(main())

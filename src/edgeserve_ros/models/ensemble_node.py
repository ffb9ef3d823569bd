"""
``ensemble``: combines local models' prediction streams in a time-synchronized way (§3.3.1).

Subscribes to the prediction streams ``inputs`` (``PayloadHeader`` with inline JSON; lazy
ones are fetched), feeds an embedded :class:`~edgeserve_ros.sync.core.Synchronizer`
(``period``, ``max_skew``, ``max_age``; members fresh, reused or imputed) advanced on a timer
of the node clock, and combines each tuple's members with
:class:`~edgeserve_ros.models.ensemble.Ensemble` (``majority``, ``weighted`` or a learned
``stacker``). Members older than ``max_skew`` relative to the newest are dropped (§6.4.3):
the late "unpopular vote" is left out. Publishes the combined prediction stream.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
import math
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.fetcher import FetchResult, PayloadFetcher
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.models.combine import combine_tuple, load_stacker
from edgeserve_ros.models.ensemble import Ensemble, RULES
from edgeserve_ros.models.prediction import InputBinding
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import HEADER_QOS
from edgeserve_ros.ros.timeconv import to_sec
from edgeserve_ros.sync.config import POLICIES, StreamSpec, SyncConfig
from edgeserve_ros.sync.core import Synchronizer
from edgeserve_ros.sync.tuples import timer_period
from edgeserve_ros.sync.types import HeaderEvent, SyncTuple

PARAMS = [
    ParamSpec('inputs', ['predictions'], 'Prediction stream topics to combine.', kind='topics'),
    ParamSpec('rule', 'majority', 'How members are combined.', choices=RULES),
    ParamSpec('weights', [1.0], "Per-input weights (rule weighted): one per input, or one "
              "for all."),
    ParamSpec('stacker_file', '', 'Local joblib/.skops file of a fitted Stacker (rule stacker).',
              kind='file'),
    ParamSpec('period', 0.1, 'Target output period, s.', 0.0001, 3600.0),
    ParamSpec('max_skew', 0.05, 'Members older than the newest by more are dropped; also the '
              'longest a tuple waits for late predictions, s.', 0.0, 3600.0),
    ParamSpec('max_age', 1.0, 'No member is older than this at its tick, s.', 0.0, 1e9),
    ParamSpec('policy', 'impute', 'Late or missing predictions: impute the last one (within '
              'max_age), combine the partial set, or skip the tick.', choices=POLICIES),
    ParamSpec('queue_size', 64, 'Predictions buffered per input.', 1, 1 << 20),
    ParamSpec('fetch_timeout', 2.0, 'Seconds to wait for a lazy prediction payload.',
              0.001, 600.0),
    ParamSpec('output_stream', 'ensemble', 'Combined prediction stream topic.', kind='topic'),
    ParamSpec('log_period', 5.0, 'Seconds between progress log lines.', 0.01, 3600.0),
]
#: (prediction JSON, stamp) of one received member prediction.
_Pred = Tuple[Dict[str, Any], float]


class EnsembleNode(Node):
    """Synchronizes prediction streams and publishes their skew-bounded combination."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('ensemble', **kwargs)
        p = declare_parameters(self, PARAMS)
        name = self.get_name()
        topics = [self.resolve_topic_name(t) for t in p['inputs'] if t]
        if not topics or not p['output_stream']:
            raise ParameterError(f'{name}: inputs must list topics; output_stream a topic')
        weights = list(p['weights'])
        if len(weights) not in (1, len(topics)):
            raise ParameterError(f'{name}: weights has {len(weights)} values for '
                                 f'{len(topics)} inputs (give one, or one per input)')
        stacker, self.keys = None, {t: t for t in topics}
        if p['rule'] == 'stacker':
            if not p['stacker_file']:
                raise ParameterError(f'{name}: stacker_file is required with rule stacker')
            try:
                stacker = load_stacker(p['stacker_file'])
            except ValueError as exc:
                raise ParameterError(f'{name}: stacker_file={exc}') from None
            bind = InputBinding(stacker.sources)
            self.keys = {t: bind(t) or '' for t in topics}
            if not all(self.keys.values()):
                raise ParameterError(f'{name}: inputs {topics} do not match the stacker '
                                     f'sources {stacker.sources}')
        try:
            self.config = SyncConfig(p['period'], p['max_skew'], p['max_age'], p['policy'],
                                     tuple(StreamSpec(t) for t in topics), p['queue_size'])
        except ValueError as exc:
            raise ParameterError(f'{name}: {exc}') from None
        keyed = [self.keys[t] for t in topics]
        self.ensemble = Ensemble(keyed, p['rule'], p['max_skew'], dict(
            zip(keyed, weights * len(topics) if len(weights) == 1 else weights)), stacker)
        self.sync: Optional[Synchronizer] = None
        self.counts = dict.fromkeys(('received', 'tuples', 'published', 'empty', 'bad'), 0)
        self.dropped: Dict[str, int] = dict.fromkeys(topics, 0)
        self._keep = 2 * p['queue_size'] + 4
        self._preds: Dict[str, 'OrderedDict[int, _Pred]'] = {t: OrderedDict() for t in topics}
        self._lock = threading.Lock()
        self.fetcher = PayloadFetcher(self, p['fetch_timeout'])
        group = MutuallyExclusiveCallbackGroup()
        for topic in topics:
            self.create_subscription(PayloadHeader, topic, partial(self._on_header, topic),
                                     HEADER_QOS, callback_group=group)
        self.create_timer(timer_period(p['period'], p['max_skew']), self._on_timer,
                          callback_group=group)
        self.create_timer(p['log_period'], self._log_progress)
        self.source = PayloadSource(self)
        self.output = self.source.add_stream(p['output_stream'], StreamOptions(
            capacity_bytes=8 << 20, ttl=30.0, delivery=DeliveryMode.AUTO, use_shm=False))
        self.get_logger().info(
            f'{p["rule"]} of {", ".join(topics)} every {p["period"]} s (max_skew '
            f'{p["max_skew"]} s) on {self.output.name}')

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_header(self, topic: str, header: PayloadHeader) -> None:
        future = self.fetcher.fetch_async(header)  # inline payloads resolve at once
        future.add_done_callback(lambda f: self._on_prediction(topic, f.result()))

    def _on_prediction(self, topic: str, result: FetchResult) -> None:
        h = result.header
        try:
            value = result.value()
            if not isinstance(value, dict):
                raise ValueError('not a JSON object')
        except ValueError as exc:
            self.counts['bad'] += 1
            self.get_logger().warning(f'{topic}#{h.seq}: {exc}', throttle_duration_sec=2.0)
            return
        stamp = to_sec(h.header.stamp)
        with self._lock:
            self.counts['received'] += 1
            kept = self._preds[topic]
            kept[h.seq] = (value, stamp)
            while len(kept) > self._keep:
                kept.popitem(last=False)
            now = self._now()
            sync = self._ensure(now)
            sync.add(HeaderEvent(topic, h.seq, stamp, now))
            self._emit(sync.advance(now))

    def _on_timer(self) -> None:
        with self._lock:
            now = self._now()
            if self.sync is not None:
                self._emit(self.sync.advance(now))

    def _ensure(self, now: float) -> Synchronizer:
        if self.sync is None:
            start = math.ceil(now / self.config.period) * self.config.period
            self.sync = Synchronizer(self.config, start)
        return self.sync

    def _emit(self, tuples: List[SyncTuple]) -> None:
        for t in tuples:
            self.counts['tuples'] += 1
            members = {}
            for stream, m in t.members.items():
                pred = None if m is None else self._preds[stream].get(m.seq)
                members[stream] = None if m is None or pred is None else (
                    pred[0], m.state, m.stamp, m.seq)
            out = combine_tuple(self.ensemble, self.keys, t.tick, members, self.get_name())
            if out is None:
                self.counts['empty'] += 1
                continue
            for stream in out['dropped']:
                self.dropped[stream] += 1
            self.output.publish(out, stamp_ns=int(round(t.tick * 1e9)))
            self.counts['published'] += 1

    def _log_progress(self) -> None:
        self.get_logger().info(', '.join(f'{k} {v}' for k, v in self.counts.items())
                               + f', dropped per input {self.dropped}')

    def destroy_node(self) -> None:
        """Release the output ring and the fetcher, then the node."""
        self.source.close()
        self.fetcher.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until shutdown; exit 2 on invalid parameters."""
    return run_node(EnsembleNode, 'ensemble', args)


if __name__ == '__main__':
    sys.exit(main())

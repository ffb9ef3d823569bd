"""
``topology_monitor``: watches a topology's predictions and labels; prints live accuracy.

Real-time accuracy (paper section 6.2.3): each prediction is compared with the last label
known when the prediction arrived. Prints ``{"event": "ready", "start_time": ...}`` once it
gives the sources their start time (the barrier, :mod:`.barrier`), one JSON line per second
(``"event": "progress"``) and a final summary (``"event": "summary"``) that the runner
(:mod:`.deploy`) and the benchmarks read. Besides the progress keys the summary has
``account`` (:mod:`.account`), ``start_time`` (wall clock of item 0; None while not ready),
``first`` and ``last`` (wall-clock arrival of the first and last prediction, or None),
``matched`` (predictions whose inputs named a known label), ``agreed`` and
``agreed_accuracy`` (predictions that used every member, whose inputs all have one known
label: how right the models are when lateness neither drops votes nor mixes examples),
``workers`` (predictions per
``worker`` field of the payload: queue workers), ``found_in_all`` / ``found_known``
(predictions whose ``found_in_all``, top level or in ``extra``, is true / is given: QR), and
``waiting_for`` (what the barrier still missed; empty once ready).

The run ends ``--seconds`` after the first prediction, after ``--idle`` seconds without a
prediction, after ``--expect`` predictions, ``--drain`` seconds after the last prediction
once every source has finished, when every item is accounted for (``--one-per-item``), when
no prediction came within ``--startup`` seconds, or on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import rclpy
from rclpy.node import Node
from std_msgs.msg import Header, String

from edgeserve_ros.dataplane.codec import decode, JSON
from edgeserve_ros.dataplane.metrics import describe
from edgeserve_ros.models.metrics import real_time_accuracy, real_time_f1
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.account import ACCOUNT_TOPIC
from edgeserve_ros.ros.qos import ACCOUNT_READER_QOS, HEADER_QOS, START_QOS
from edgeserve_ros.ros.spin import stop_signals
from edgeserve_ros.ros.timeconv import from_sec, to_sec
from edgeserve_ros.topology.account import (complete, item_account, sources_done,
                                            sources_ready)


class Monitor(Node):
    """Collects (arrival, label) of predictions and (stamp, label) of the truth."""

    def __init__(self, predictions: str, labels: str, one_per_item: bool = False) -> None:
        super().__init__('topology_monitor')
        self.one_per_item = one_per_item
        #: node -> its newest item account (edgeserve_ros.ros.account)
        self.accounts: Dict[str, Dict[str, Any]] = {}
        self.create_subscription(String, ACCOUNT_TOPIC, self._on_account, ACCOUNT_READER_QOS)
        self.predictions_topic = predictions
        self.predictions: List[Tuple[float, Any]] = []
        self.labels: List[Tuple[float, Any]] = []
        self.label_at: Dict[float, Any] = {}  # stamp -> label, for per-example accuracy
        self.matched: List[bool] = []
        #: predictions whose inputs all come from examples of one label: right or wrong
        self.agreed: List[bool] = []
        self.end_to_end: List[float] = []
        self.last: Optional[Dict[str, Any]] = None
        #: predictions per queue worker, and QR pairs found in every view
        self.workers: Dict[str, int] = {}
        self.found = {'found_in_all': 0, 'found_known': 0}
        #: wall-clock start time given to the sources (the barrier), once published
        self.start_time: Optional[float] = None
        #: what the start barrier still waits for (see _missing)
        self.waiting_for: List[str] = []
        self.create_subscription(PayloadHeader, predictions, self._on_prediction, HEADER_QOS)
        if labels:
            self.create_subscription(PayloadHeader, labels, self._on_label, HEADER_QOS)

    def _payload(self, msg: PayloadHeader) -> Optional[Dict[str, Any]]:
        if msg.content_type != JSON or not msg.inline_payload:
            self.get_logger().warning(f'{msg.stream}#{msg.seq}: not an inline JSON payload')
            return None
        value = decode(bytes(msg.inline_payload), JSON)
        return value if isinstance(value, dict) else None

    def _on_prediction(self, msg: PayloadHeader) -> None:
        now = self.get_clock().now().nanoseconds * 1e-9
        value = self._payload(msg)
        if value is None:
            return
        self.predictions.append((now, value.get('label')))
        stamps = [float(m['stamp']) for m in (value.get('inputs') or {}).values()
                  if isinstance(m, dict) and m.get('stamp') is not None]
        truth = [self.label_at[round(s, 6)] for s in stamps if round(s, 6) in self.label_at]
        if truth:
            self.matched.append(value.get('label') == truth[0])
            if (len(set(map(str, truth))) == 1 and len(truth) == len(stamps)
                    and not value.get('dropped') and not value.get('missing')):
                self.agreed.append(value.get('label') == truth[0])
        self.end_to_end.append(now - (min(stamps) if stamps else to_sec(msg.header.stamp)))
        self.last = value
        worker = value.get('worker')  # queue workers name themselves; '' or absent: not one
        if isinstance(worker, str) and worker and (
                worker in self.workers or len(self.workers) < 4096):  # bounded
            self.workers[worker] = self.workers.get(worker, 0) + 1
        extra = value.get('extra')
        found = value.get('found_in_all',
                          extra.get('found_in_all') if isinstance(extra, dict) else None)
        if found is not None:
            self.found['found_known'] += 1
            self.found['found_in_all'] += bool(found)

    def _on_label(self, msg: PayloadHeader) -> None:
        value = self._payload(msg)
        if value is not None:
            stamp = to_sec(msg.header.stamp)
            self.labels.append((stamp, value.get('label')))
            if len(self.label_at) < 1_000_000:  # bounded
                self.label_at[round(stamp, 6)] = value.get('label')

    def _on_account(self, msg: String) -> None:
        try:
            value = json.loads(msg.data)
        except ValueError:
            return
        if isinstance(value, dict) and len(self.accounts) < 10_000:  # bounded
            self.accounts[str(value.get('node'))] = value

    def account(self) -> Dict[str, int]:
        """Return the item account of the run so far (see topology.account)."""
        return item_account(self.accounts, self.one_per_item)

    def report(self, elapsed: float, event: str) -> Dict[str, Any]:
        """Return the metrics so far as a dict."""
        e2e = describe(self.end_to_end)
        out = {'event': event, 't': round(elapsed, 2), 'predictions': len(self.predictions),
               'rate_hz': round(len(self.predictions) / elapsed, 2) if elapsed > 0 else 0.0,
               'labels': len(self.labels),
               'real_time_accuracy': round(real_time_accuracy(self.predictions, self.labels), 4),
               'real_time_f1': round(real_time_f1(self.predictions, self.labels), 4),
               'example_accuracy': (round(sum(self.matched) / len(self.matched), 4)
                                    if self.matched else None),
               'agreed_accuracy': (round(sum(self.agreed) / len(self.agreed), 4)
                                   if self.agreed else None),
               'agreed': len(self.agreed),
               'e2e_p50_ms': round(e2e['p50'] * 1e3, 2), 'e2e_p99_ms': round(e2e['p99'] * 1e3, 2),
               'last_label': (self.last or {}).get('label'),
               'last_truth': self.labels[-1][1] if self.labels else None}
        if event == 'summary':
            arrivals = [t for t, _ in self.predictions]
            out.update(account=self.account(), matched=len(self.matched), workers=self.workers,
                       first=arrivals[0] if arrivals else None,
                       last=arrivals[-1] if arrivals else None, start_time=self.start_time,
                       waiting_for=self.waiting_for, **self.found)
        return out


def arguments() -> argparse.ArgumentParser:
    """Return the command-line parser (see :mod:`edgeserve_ros.topology.barrier`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--predictions', required=True, help='prediction stream topic')
    parser.add_argument('--labels', default='/edgeserve/labels', help='label stream topic')
    parser.add_argument('--seconds', type=float, default=20.0, help='how long to watch')
    parser.add_argument('--idle', type=float, default=5.0,
                        help='stop after this many seconds without a prediction')
    parser.add_argument('--need', default='[{}, {}]',
                        help='JSON [publishers, subscribers]: per topic, how many must be '
                             'there before the start (topology.plan.readiness)')
    parser.add_argument('--sources', type=int, default=0,
                        help='before the start, this many workload sources must say in their '
                             'account that their header writers matched every subscriber')
    parser.add_argument('--start-topic', default='',
                        help='publish the common start time (std_msgs/Header) here')
    parser.add_argument('--startup', type=float, default=90.0,
                        help='give up when no prediction came within this many seconds')
    parser.add_argument('--expect', type=int, default=0,
                        help='stop once this many predictions came (0: no such bound)')
    parser.add_argument('--drain', type=float, default=0.0,
                        help='once every source has finished, stop after this many seconds '
                             'without a prediction (0: off)')
    parser.add_argument('--one-per-item', action='store_true',
                        help='each produced item yields one prediction: the account at the '
                             'end says how many none of its counters explains')
    return parser


def _missing(node: Monitor, args: argparse.Namespace, need_pub: Dict[str, int],
             need_sub: Dict[str, int], start_pub: Any = None) -> List[str]:
    """
    Return what the start barrier still waits for (empty: every node is up).

    That includes the start writer's own match with every source: a source that gets the
    (latched) start message late skips the items already more than its lag bound overdue.
    """
    need_pub = {args.predictions: 1, **need_pub}
    missing = [f'{t}: {have}/{n} publishers' for t, n in need_pub.items()
               if (have := node.count_publishers(t)) < n]
    missing += [f'{t}: {have}/{n} subscribers' for t, n in need_sub.items()
                if (have := node.count_subscribers(t)) < n]
    if (ready := sources_ready(node.accounts)) < args.sources:
        missing.append(f'sources with matched writers: {ready}/{args.sources}')
    if start_pub is not None and (have := start_pub.get_subscription_count()) < args.sources:
        missing.append(f'{args.start_topic}: {have}/{args.sources} sources matched')
    return missing


def _watch(node: Monitor, args: argparse.Namespace) -> float:
    """Spin until the end condition; return the seconds from first to last prediction."""
    need_pub, need_sub = json.loads(args.need)
    start, last_count, last_change, next_print = None, 0, time.monotonic(), 0.0
    ready = False
    start_pub = node.create_publisher(Header, args.start_topic, START_QOS) \
        if args.start_topic else None
    while rclpy.ok():
        try:
            if not ready:
                node.waiting_for = _missing(node, args, need_pub, need_sub, start_pub)
                ready = not node.waiting_for
            if ready and node.start_time is None:  # every node is up: one start time for all
                node.start_time = round(time.time() + 0.5, 6)
                if start_pub is not None:
                    start_pub.publish(Header(stamp=from_sec(node.start_time), frame_id='start'))
                print(json.dumps({'event': 'ready', 'start_time': node.start_time}), flush=True)
            rclpy.spin_once(node, timeout_sec=0.05)
        except Exception:  # noqa: BLE001 - the context went away under a call
            if rclpy.ok():
                raise
            break  # SIGINT/SIGTERM: rclpy shut the context down (see ros.spin.stop_signals)
        now = time.monotonic()
        if node.predictions and start is None:
            start = now
            next_print = now + 1.0
        if len(node.predictions) != last_count:
            last_count, last_change = len(node.predictions), now
        if start is not None and now >= next_print:
            next_print += 1.0
            print(json.dumps(node.report(now - start, 'progress')), flush=True)
        if start is not None and (now - start > args.seconds or now - last_change > args.idle):
            break
        if node.one_per_item and complete(node.account()):
            break  # every item produced is predicted or accounted for
        if args.expect and len(node.predictions) >= args.expect:
            break
        if args.drain and start is not None and now - last_change > args.drain \
                and sources_done(node.account()):
            break  # the sources are done and the output went quiet
        if start is None and now - last_change > args.startup:
            node.get_logger().error(
                f'no prediction on {args.predictions} within {args.startup:.0f} s' + (
                    f'; not ready, waiting for {"; ".join(node.waiting_for)}'
                    if node.waiting_for else ''))
            break
    return (last_change - start) if start is not None else 0.0


def _settle_accounts(node: Monitor, quiet: float = 1.5, limit: float = 5.0) -> None:
    """Spin until the nodes' accounts stop changing (``quiet`` s) or ``limit`` s pass."""
    last, changed, end = node.account(), time.monotonic(), time.monotonic() + limit
    try:
        while rclpy.ok() and time.monotonic() < end and time.monotonic() - changed < quiet:
            rclpy.spin_once(node, timeout_sec=0.05)
            if node.account() != last:
                last, changed = node.account(), time.monotonic()
    except Exception:  # noqa: BLE001 - the context went away under a call (a signal)
        if rclpy.ok():
            raise


def main(argv: Optional[List[str]] = None) -> int:
    """Watch until ``--seconds`` pass (after the first prediction) or input goes quiet."""
    parser = arguments()
    args, ros_args = parser.parse_known_args(argv)
    with stop_signals() as received:
        rclpy.init(args=ros_args)
        node = Monitor(args.predictions, args.labels, args.one_per_item)
        try:
            elapsed = _watch(node, args)
            _settle_accounts(node)
            print(json.dumps(node.report(elapsed, 'summary')), flush=True)
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
    return 0 if node.predictions or received else 1


if __name__ == '__main__':
    sys.exit(main())

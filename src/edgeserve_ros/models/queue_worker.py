"""
``queue_worker``: a worker of a ``shared_queue`` node (paper §4.2, §6.5).

One loop thread pulls up to ``max_items`` work items from ``/<queue>/pull`` (sleeping
``idle_backoff`` when there are none), fetches the payloads the items need, runs the model on
them as one micro-batch and publishes one ``WorkResult`` per item on ``/<queue>/results``. The
executor only serves the replies of the pull and fetch services, so a slow model never blocks
them. The model runs through :func:`edgeserve_ros.models.prediction.predict_tuples` (rclpy-free).
"""

from __future__ import annotations

from collections import deque
import json
import sys
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Set, Tuple

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

from edgeserve_ros.dataplane.fetcher import FetchResult, PayloadFetcher
from edgeserve_ros.dataplane.status import FetchStatus
from edgeserve_ros.models.link_faults import LinkFaults
from edgeserve_ros.models.prediction import (InputBinding, load_named_model, model_inputs,
                                             ModelSelectError, predict_tuples)
from edgeserve_ros.models.tuple_inputs import STATES
from edgeserve_ros.models.types import Inputs
from edgeserve_ros.models.worker_waits import Answer, Fetches, Lookahead, split_batches
from edgeserve_ros.msg import PayloadHeader, WorkItem, WorkResult
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import HEADER_QOS
from edgeserve_ros.ros.timeconv import to_sec
from edgeserve_ros.srv import PullWork

PARAMS = [
    ParamSpec('queue', 'shared_queue', 'shared_queue node name: pulls /<queue>/pull, answers '
              'on /<queue>/results.', kind='node'),
    ParamSpec('model_file', '', 'YAML file with a `models:` list (see models.loaders).',
              kind='file'),
    ParamSpec('model', '', "Model name in model_file ('' if the file holds one model)."),
    ParamSpec('worker_name', '', "Worker identity in pulls and results ('' = node name).",
              kind='node'),
    ParamSpec('max_items', 4, 'Micro-batch size: items wanted per pull.', 1, 4096),
    ParamSpec('max_delay', 0.0, 'Seconds a worker keeps pulling to fill a micro-batch of '
              'max_items after its first item (the max queue delay; 0: what one pull gives).',
              0.0, 10.0),
    ParamSpec('fetch_timeout', 2.0, 'Seconds to wait for one fetch answer.', 0.001, 600.0),
    ParamSpec('idle_backoff', 0.005, 'Seconds before pulling again after an empty pull; '
              'doubles with every further empty pull, up to 64x.', 0.0, 10.0),
    ParamSpec('pull_timeout', 1.0, 'Seconds to wait for a pull answer.', 0.001, 600.0),
    ParamSpec('fault_drop', 0.0, 'Fault injection: probability that this worker fails on an '
              'item it pulled (not fetched, not answered; the queue re-sends it).', 0.0, 1.0),
    ParamSpec('fault_delay', 0.0, 'Fault injection: seconds added to every pull and fetch '
              'answer this worker receives (one-way link delay).', 0.0, 60.0),
    ParamSpec('fault_loss', 0.0, "Fault injection: probability that an item's message, or a "
              'whole pull answer, is lost on the way to this worker.', 0.0, 1.0),
    ParamSpec('fault_seed', 0, 'Seed of the fault draws.', 0, (1 << 31) - 1),
    ParamSpec('prefetch', 0, 'Micro-batches pulled and fetched ahead of the one the model '
              'runs (0: none). 1 hides pull and fetch round trips as long as one batch takes; '
              'raise it where they take longer (a slow or distant link).', 0, 8),
]
#: One item ready for the model: (inputs, provenance {stream: {seq, stamp, state}}, tick).
Prepared = Tuple[Inputs, Dict[str, Dict[str, Any]], float]
#: Seconds ``destroy_node`` waits for the loop thread (a model call is not interruptible).
LOOP_JOIN_S = 30.0


class QueueWorker(Node):
    """Pulls work from a shared_queue node, predicts micro-batches, returns results."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('queue_worker', **kwargs)
        p = declare_parameters(self, PARAMS)
        if not p['queue']:
            raise ParameterError(f'{self.get_name()}: queue must name a shared_queue node')
        if not p['model_file']:
            raise ParameterError(f'{self.get_name()}: model_file is required')
        try:
            self.model_name, self.model = load_named_model(p['model_file'], p['model'])
        except ModelSelectError as exc:
            raise ParameterError(f'{self.get_name()}: {exc}') from None
        self.binding = InputBinding(model_inputs(self.model))
        self.worker = p['worker_name'] or self.get_name()
        self.max_items, self.backoff = p['max_items'], p['idle_backoff']
        self.pull_timeout = p['pull_timeout']
        self.look = Lookahead(p['prefetch'])
        self.max_delay = p['max_delay']
        queue = p['queue'] if p['queue'].startswith('/') else '/' + p['queue']
        group = ReentrantCallbackGroup()
        self._client = self.create_client(PullWork, f'{queue}/pull', callback_group=group)
        self._results = self.create_publisher(WorkResult, f'{queue}/results', HEADER_QOS)
        self.fetcher = PayloadFetcher(self, p['fetch_timeout'], callback_group=group)
        self.processed = 0
        self._stop = threading.Event()
        self.faults = LinkFaults(p['fault_drop'], p['fault_delay'], p['fault_loss'],
                                 p['fault_seed'], self._stop)
        #: ids of the items received and not answered yet: the leases each pull extends
        self._holding: Set[int] = set()
        #: ids answered since the last pull: listed once more, as their results may reach
        #: the queue after the pull (a pull releases every lease it does not list)
        self._answered: Set[int] = set()
        self.finished = Future()
        self._thread = threading.Thread(target=self._loop, name='queue_worker', daemon=True)
        self._thread.start()
        self.get_logger().info(f'worker {self.worker}: model {self.model_name}, '
                               f'{self.max_items} item(s) per pull from {queue}/pull')

    def _request(self, wanted: int = 0) -> Optional[Answer]:
        """Send a pull (also a heartbeat); None when the queue's service is not there."""
        if not self._client.wait_for_service(timeout_sec=0.2):
            return None
        request = PullWork.Request(worker=self.worker, max_items=wanted or self.max_items,
                                   holding=sorted(self._holding | self._answered),
                                   host_id=self.fetcher.host)  # its rings: read, not sent
        self._answered = set()
        return Answer(self._client.call_async(request))

    def _fill(self, items: List[WorkItem]) -> List[WorkItem]:
        """Pull again until ``max_items`` are held or ``max_delay`` has passed."""
        deadline = time.monotonic() + self.max_delay
        while len(items) < self.max_items and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._holding.update(item.id for item in items)  # their leases stay extended
            more, shutting_down = self._answer(self._request(self.max_items - len(items)))
            items += more
            if shutting_down:
                break  # the next pull of the loop sees it too
            if not more:
                self._stop.wait(min(left, max(self.backoff, 0.001)))
        return items

    def _answer(self, pull: Optional[Answer]) -> Tuple[List[WorkItem], bool]:
        """Wait for a pull's answer: (items, shutting_down); no items on a timeout."""
        if pull is None:
            return [], False
        future = pull.future
        limit = time.monotonic() + self.pull_timeout
        while not pull.done.wait(0.05) and not self._stop.is_set() \
                and time.monotonic() < limit:
            pass
        if not future.done() or future.result() is None:
            self._client.remove_pending_request(future)
            return [], False
        if self.faults.answer_lost():
            return [], False  # its items never reach this worker: released at the next pull
        # ``fault_delay`` counts from the arrival: a prefetched answer that came while the
        # model ran waits only what is left (from the wait's start, it cost a whole delay)
        arrived = pull.arrived if pull.arrived is not None else time.monotonic()
        self.faults.arrive(arrived)
        self.look.pulled(arrived + self.faults.delay - pull.sent)
        answer = future.result()
        return list(answer.items), bool(answer.shutting_down)

    def _loop(self) -> None:
        try:
            self._serve()
        except Exception:  # noqa: BLE001
            if self.context.ok():
                raise
            # SIGINT/SIGTERM shut the context down under a call (see ros.spin.stop_signals)

    def _serve(self) -> None:
        # With prefetch n, a pipeline: while one batch runs, up to n more (as many as the round
        # trips need, see Lookahead) are being fetched and one pull travels (one at a time: a
        # pull releases the leases it does not list).
        ahead: Optional[Answer] = None
        ready: Deque[Tuple[List[WorkItem], Fetches]] = deque()  # pulled, fetches started
        idle = 0  # empty pulls in a row: the backoff doubles up to 64x, so idle workers rest
        stopping = False
        while not self._stop.is_set() and not stopping:
            if not ready:
                items, stopping = self._receive(ahead or self._request(), fill=True)
                ahead = None
                if not items:
                    if not stopping:
                        self._stop.wait(self.backoff * (1 << min(idle, 6)))
                        idle += 1
                    continue
                ready.extend(self._batches(items))
            idle = 0
            items, fetches = ready.popleft()
            depth = self.look.depth()
            if depth and ahead is None and not stopping:
                ahead = self._request(self._wanted(len(ready), depth))
            fetched = self._wait_fetches(fetches)
            if ahead is not None and (not ready or self._arrived(ahead)):
                more, stopping = self._receive(ahead, fill=False)
                ready.extend(self._batches(more))
                ahead = None
                if not stopping and len(ready) <= depth:  # it travels while this one runs
                    ahead = self._request(self._wanted(len(ready), depth))
            try:
                self._answered.update(self._process(items, fetched))
            except Exception as exc:  # noqa: BLE001 - keep serving; the items are re-sent
                if self._stop.is_set():
                    return
                self.get_logger().error(f'batch of {len(items)} failed: {exc!r}')
            self._holding.difference_update(item.id for item in items)
        if stopping and not self._stop.is_set():
            self.get_logger().info(f'queue is shutting down; {self.processed} item(s) done, '
                                   f'{self.faults.dropped} dropped by faults')
            self.finished.set_result(True)

    def _wanted(self, ready: int, depth: int) -> int:
        """Items to pull: ``depth`` batches ahead, and at least what runs while it travels."""
        return self.max_items * max(self.look.per_pull(), depth - ready)

    def _arrived(self, pull: Answer) -> bool:
        """Whether ``pull``'s answer is here, its ``fault_delay`` included (never waits)."""
        now = time.monotonic()
        return pull.done.is_set() and self.faults.remaining(pull.arrived or now, now) <= 0

    def _batches(self, items: List[WorkItem]) -> List[Tuple[List[WorkItem], Fetches]]:
        """Split a pull's items into micro-batches; start their fetches."""
        return [(batch, self._start_fetches(batch))
                for batch in split_batches(items, self.max_items)]

    def _receive(self, pull: Optional[Answer], fill: bool) -> Tuple[List[WorkItem], bool]:
        """Take a pull's answer: the items kept by the faults, now held; and shutting_down."""
        items, shutting_down = self._answer(pull)
        if items and fill and self.max_delay:
            items = self._fill(items)
        items = self.faults.keep(items)  # failed or lost: not held, the next pull frees them
        self._holding.update(item.id for item in items)
        return items, shutting_down

    def _process(self, items: List[WorkItem],
                 fetched: Dict[Tuple[str, int], FetchResult]) -> List[int]:
        """Predict and answer one fetched micro-batch; return the ids answered."""
        begin = time.perf_counter()
        prepared = [self._prepare(item, fetched) for item in items]
        ready = [p for p in prepared if not isinstance(p, str)]
        outcomes = iter(predict_tuples(
            self.model, [inputs for inputs, _, _ in ready],
            [{'tick': tick, 'inputs': prov} for _, prov, tick in ready],
            self.model_name, self.worker))
        seconds = time.perf_counter() - begin
        self.look.ran(seconds)
        for item, prep in zip(items, prepared):
            outcome = prep if isinstance(prep, str) else next(outcomes)
            ok = isinstance(outcome, dict) and 'error' not in outcome
            reason = '' if ok else (outcome if isinstance(outcome, str) else outcome['error'])
            self._results.publish(WorkResult(
                id=item.id, worker=self.worker, ok=ok, reason=reason,
                prediction_json=json.dumps(outcome) if ok else '', processing_s=seconds))
        self.processed += len(items)
        return [item.id for item in items]

    @staticmethod
    def _members(item: WorkItem) -> List[Tuple[PayloadHeader, Optional[bytes], str]]:
        if item.kind == WorkItem.KIND_STREAM:
            return [(item.header, None, 'fresh')]
        return [(m.payload_header, bytes(m.payload) if m.payload_fetched else None,
                 STATES.get(m.state, 'fresh')) for m in item.tuple.members if m.present]

    def _start_fetches(self, items: List[WorkItem]) -> 'Fetches':
        """Start fetching the payloads of all items' members, each (stream, seq) once."""
        fetches = Fetches(time.monotonic() + self.fetcher.timeout * (self.fetcher.retries + 1)
                          + 1.0)
        for item in items:
            for header, data, _ in self._members(item):
                key = (header.stream, header.seq)
                if data is not None:
                    fetches.results[key] = FetchResult(header, FetchStatus.OK, data,
                                                       path='tuple')
                elif key not in fetches.answers and key not in fetches.results:
                    fetches.add(key, self.fetcher.fetch_async(header))
        return fetches

    def _wait_fetches(self, fetches: 'Fetches') -> Dict[Tuple[str, int], FetchResult]:
        """Wait for the fetches (each answer ``fault_delay`` after it arrived)."""
        for key, answer in fetches.answers.items():
            # in slices: a stop (Ctrl-C) must not wait out the fetch timeouts (7 s by default;
            # launch escalated to SIGKILL while workers waited here)
            while not answer.done.wait(0.05) and not self._stop.is_set() \
                    and self.context.ok() and time.monotonic() < fetches.limit:
                pass
            if answer.future.done() and answer.future.result() is not None:
                self.faults.arrive(answer.arrived or time.monotonic())
                fetches.results[key] = answer.future.result()
        last = fetches.last_arrival()
        if last is not None:
            self.look.fetched(last + self.faults.delay - fetches.started)
        return fetches.results

    def _prepare(self, item: WorkItem, fetched: Dict[Tuple[str, int], FetchResult]) -> Any:
        """Decode an item's payloads; return a ``Prepared`` triple or the error text."""
        stream_input = item.kind == WorkItem.KIND_STREAM
        header_stamp = item.header.header.stamp if stream_input else item.tuple.header.stamp
        inputs: Inputs = {name: None for name in self.binding.inputs or ()}
        provenance: Dict[str, Dict[str, Any]] = {}
        for header, _, state in self._members(item):
            result = fetched.get((header.stream, header.seq))
            if result is None or not result.ok:
                why = 'TIMEOUT' if result is None else f'{result.status.name} {result.reason}'
                if stream_input:
                    return f'{header.stream}#{header.seq}: {why}'
                continue  # a missing member: the model's fill decides
            name = self.binding(header.stream, only=stream_input)
            if name is None:
                continue  # a stream this model does not use
            try:
                inputs[name] = result.value()
            except ValueError as exc:
                return f'{header.stream}#{header.seq}: {exc}'
            provenance[header.stream] = dict(seq=header.seq, stamp=to_sec(header.header.stamp),
                                             state=state)
        return inputs, provenance, to_sec(header_stamp)

    def destroy_node(self) -> None:
        """Stop the loop thread, then the node (left alone while a model call still runs)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=LOOP_JOIN_S)
            if self._thread.is_alive():
                # destroying the publisher and clients under the thread segfaulted (CI, 139)
                self.get_logger().error(f'loop thread still running after {LOOP_JOIN_S:g} s '
                                        '(a model call?): node left to the process exit')
                return
        self.fetcher.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run until shutdown (or the queue's shutting_down); exit 2 on invalid parameters."""
    return run_node(QueueWorker, 'queue_worker', args, until='finished')


if __name__ == '__main__':
    sys.exit(main())

"""
What a ``queue_worker`` waits for: a pull's answer, a micro-batch's fetches (rclpy-free).

A worker with ``prefetch`` n keeps up to n micro-batches pulled and fetched ahead of the one
its model runs: as many as it takes to cover a pull's and its fetches' round trips with model
time (:class:`Lookahead`; one when the link is fast, so a short run ends with the work spread
evenly over the workers), and :func:`split_batches` cuts a pull's answer into micro-batches.

Each records when its answers arrived (``fault_delay`` counts from then, see
:mod:`.link_faults`), from a done callback registered when the request is sent: a
prefetched answer that arrived while the model ran must not be stamped when the worker
starts waiting for it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple, TypeVar

#: A payload: (stream, seq).
Key = Tuple[str, int]
T = TypeVar('T')


class Completable(Protocol):
    """What is used of ``rclpy.task.Future``."""

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(future)`` once done."""


class Answer:
    """A request's answer future, stamped when it completes (a pull's, or one fetch's)."""

    def __init__(self, future: Any) -> None:
        self.future: Any = future
        self.sent = time.monotonic()
        self.done = threading.Event()
        self.arrived: Optional[float] = None
        future.add_done_callback(self._on_done)

    def _on_done(self, _: Completable) -> None:
        if self.arrived is None:
            self.arrived = time.monotonic()
        self.done.set()


class Fetches:
    """The fetches of one micro-batch: answers, results; give up at ``limit``."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.started = time.monotonic()
        self.answers: Dict[Key, Answer] = {}
        #: ``dataplane.fetcher.FetchResult`` per payload
        self.results: Dict[Key, Any] = {}

    def add(self, key: Key, future: Any) -> None:
        """Track ``future``; its arrival time is taken when it completes."""
        self.answers[key] = Answer(future)

    def last_arrival(self) -> Optional[float]:
        """When the last answer that came arrived (None: none came)."""
        return max((a.arrived for a in self.answers.values() if a.arrived is not None),
                   default=None)


def split_batches(items: Sequence[T], size: int) -> List[List[T]]:
    """
    Cut ``items`` into micro-batches of ``size``, in order; a join group stays whole.

    Items with the same non-empty ``join_key`` next to each other (the queue leases a join
    group together) go into one batch, which may then exceed ``size``.
    """
    batches: List[List[T]] = []
    for item in items:
        last = batches[-1] if batches else None
        key = getattr(item, 'join_key', '')
        if last is None or (len(last) >= size
                            and not (key and key == getattr(last[-1], 'join_key', ''))):
            batches.append([item])
        else:
            last.append(item)
    return batches


class Lookahead:
    """
    Micro-batches to keep ahead: enough for model time to cover the round trips, <= ``limit``.

    Moving averages of a pull's round trip, of a micro-batch's fetches (from their start to
    the last answer, each with its link delay) and of the model's time per micro-batch give
    ``ceil((pull + fetch) / model)``: 1 on a fast link, 3 for 0.5 s each way and a 0.4 s batch.
    One pull travels at a time and its answer is taken between micro-batches, so each answer
    must bring what runs while a pull travels: :meth:`per_pull`.

    :param limit: the most micro-batches ahead (``prefetch``; 0: none)
    :param weight: weight of a new sample in the moving averages
    """

    def __init__(self, limit: int, weight: float = 0.3) -> None:
        self.limit, self.weight = limit, weight
        self.pull_s = self.fetch_s = 0.0
        self.run_s = 0.0

    def _mix(self, old: float, new: float) -> float:
        return new if old == 0.0 else old + self.weight * (new - old)

    def pulled(self, seconds: float) -> None:
        """Record a pull's round trip."""
        self.pull_s = self._mix(self.pull_s, max(0.0, seconds))

    def fetched(self, seconds: float) -> None:
        """Record the time from a micro-batch's first fetch request to its last answer."""
        self.fetch_s = self._mix(self.fetch_s, max(0.0, seconds))

    def ran(self, seconds: float) -> None:
        """Record the model's time for one micro-batch."""
        self.run_s = self._mix(self.run_s, max(1e-6, seconds))

    def depth(self) -> int:
        """Micro-batches to keep pulled and fetched ahead of the running one."""
        if self.limit <= 0:
            return 0
        if self.run_s <= 0.0:
            return 1
        return max(1, min(self.limit, math.ceil((self.pull_s + self.fetch_s) / self.run_s)))

    def per_pull(self) -> int:
        """
        Return the micro-batches one pull must bring at least: those that run meanwhile.

        That is ``ceil(pull / model)``, capped at ``limit``.

        Asking only for what the depth lacks starved a worker whose images come inline (no
        fetch): depth ``ceil(0.5 / 0.4) = 2``, two ready when the answer came, so the next
        pull asked for one batch while two ran (seed-001 at 500 ms: 30.4 % slower; 24.7 % now).
        """
        if self.limit <= 0 or self.run_s <= 0.0:
            return 1
        return max(1, min(self.limit, math.ceil(self.pull_s / self.run_s)))

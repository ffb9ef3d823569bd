"""
What a ``queue_worker`` waits for: a pull's answer, a micro-batch's fetches (rclpy-free).

Each records when its answers arrived (``fault_delay`` counts from then, see
:mod:`.link_faults`), from a done callback registered when the request is sent: a
prefetched answer that arrived while the model ran must not be stamped when the worker
starts waiting for it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional, Protocol, Tuple

#: A payload: (stream, seq).
Key = Tuple[str, int]


class Completable(Protocol):
    """What is used of ``rclpy.task.Future``."""

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(future)`` once done."""


class Fetches:
    """The fetches of one micro-batch: futures, arrival times, results; give up at ``limit``."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.futures: Dict[Key, Any] = {}
        self.done: Dict[Key, threading.Event] = {}
        self.arrived: Dict[Key, float] = {}
        #: ``dataplane.fetcher.FetchResult`` per payload
        self.results: Dict[Key, Any] = {}

    def add(self, key: Key, future: Any) -> None:
        """Track ``future``; its arrival time is taken when it completes."""
        self.futures[key], self.done[key] = future, threading.Event()

        def on_done(_: Completable) -> None:
            self.arrived.setdefault(key, time.monotonic())
            self.done[key].set()
        future.add_done_callback(on_done)


class Pull:
    """A pull's answer future with its arrival time, taken when it completes."""

    def __init__(self, future: Any) -> None:
        self.future: Any = future
        self.done = threading.Event()
        self.arrived: Optional[float] = None
        future.add_done_callback(self._on_done)

    def _on_done(self, _: Completable) -> None:
        if self.arrived is None:
            self.arrived = time.monotonic()
        self.done.set()

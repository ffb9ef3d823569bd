"""
Uploads waiting for their predictions, keyed by ``(stream, seq)`` of the payload header.

Thread-safe: the gateway registers a key under :attr:`Pending.lock` while it publishes
(so a prediction can never overtake its registration), and the ROS callback resolves it
from the executor thread. A waiter that gives up (timeout, client gone) is discarded.
Bounded by the admission that precedes it (each entry holds a ticket).
"""

from __future__ import annotations

from concurrent.futures import Future
import threading
from typing import Any, Dict, Mapping, Tuple

Key = Tuple[str, int]


class Pending:
    """``(stream, seq)`` -> Future of the prediction JSON object."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._waiting: Dict[Key, 'Future[Dict[str, Any]]'] = {}
        self.unmatched = 0  # predictions nobody waited for (late, or another gateway's)

    def add(self, key: Key) -> 'Future[Dict[str, Any]]':
        """Register ``key``; return the Future its prediction completes."""
        future: 'Future[Dict[str, Any]]' = Future()
        with self.lock:
            self._waiting[key] = future
        future.add_done_callback(lambda _: self.discard(key))
        return future

    def discard(self, key: Key) -> None:
        """Forget ``key`` (its waiter finished or gave up)."""
        with self.lock:
            self._waiting.pop(key, None)

    def resolve(self, prediction: Mapping[str, Any]) -> int:
        """Complete the waiters of every input named in ``prediction['inputs']``."""
        done = 0
        for stream, info in dict(prediction.get('inputs') or {}).items():
            seq = info.get('seq') if isinstance(info, Mapping) else None
            if not isinstance(seq, int):
                continue
            with self.lock:
                future = self._waiting.pop((stream, seq), None)
            if future is None:
                self.unmatched += 1
            elif future.set_running_or_notify_cancel():
                future.set_result(dict(prediction))
                done += 1
        return done

    def __len__(self) -> int:
        return len(self._waiting)

"""
A pure micro-batcher: time is passed in, there are no threads.

Items are collected until either ``max_batch`` items are waiting (the batch is
returned by :meth:`MicroBatcher.add`) or the oldest waiting item has waited
``max_delay_s`` (the batch is returned by :meth:`MicroBatcher.due`).  A caller
(e.g. a ROS timer) polls :meth:`MicroBatcher.due` at :meth:`MicroBatcher.deadline`.
"""

from typing import Any, List, Optional


class MicroBatcher:
    """
    Group items into batches of at most ``max_batch`` and at most ``max_delay_s`` old.

    :param max_batch: flush as soon as this many items wait (>= 1).
    :param max_delay_s: flush when the oldest item has waited this long (>= 0).
    """

    def __init__(self, max_batch: int, max_delay_s: float) -> None:
        if max_batch < 1:
            raise ValueError('max_batch must be >= 1')
        if max_delay_s < 0:
            raise ValueError('max_delay_s must be >= 0')
        self.max_batch = int(max_batch)
        self.max_delay_s = float(max_delay_s)
        self._items: List[Any] = []
        self._first_at: Optional[float] = None

    def __len__(self) -> int:
        return len(self._items)

    def _take(self) -> List[Any]:
        # Never more than max_batch items wait: add() flushes on reaching it.
        batch, self._items, self._first_at = self._items, [], None
        return batch

    def add(self, item: Any, now: float) -> Optional[List[Any]]:
        """Add ``item`` received at ``now``; return a full batch if one is ready."""
        if self._first_at is None:
            self._first_at = now
        self._items.append(item)
        if len(self._items) >= self.max_batch:
            return self._take()
        return None

    def deadline(self) -> Optional[float]:
        """Return when the waiting items become due, or ``None`` if nothing waits."""
        return None if self._first_at is None else self._first_at + self.max_delay_s

    def due(self, now: float) -> Optional[List[Any]]:
        """Return the waiting batch if its oldest item has waited ``max_delay_s``."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        return self._take()

    def flush(self) -> List[Any]:
        """Return everything waiting (possibly empty), e.g. at shutdown."""
        batch, self._items, self._first_at = self._items, [], None
        return batch

"""
Bounding the inputs a model node works on at once (paper section 4.3, data skipping).

A model that cannot keep up should predict on the newest data, not on a growing backlog:
with a bound of ``n``, at most ``n`` inputs are being fetched or wait for the model; past
the bound only the newest input waits and each one it replaces is skipped (never fetched,
counted). On a slow link this is what keeps lazy fetching from congesting itself.
"""

import threading
from typing import Generic, Optional, TypeVar

T = TypeVar('T')


class Admission(Generic[T]):
    """
    Admits inputs up to ``limit`` in progress; beyond it, the newest waits (latest wins).

    :param limit: inputs in progress at once; 0 admits everything (no skipping).
    """

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f'limit must be >= 0, got {limit}')
        self.limit = limit
        self.in_progress = 0
        self.skipped = 0
        self._waiting: Optional[T] = None
        self._lock = threading.Lock()

    def offer(self, item: T) -> Optional[T]:
        """Return ``item`` if it may start now; else keep it as the waiting one (None)."""
        with self._lock:
            if not self.limit or self.in_progress < self.limit:
                self.in_progress += 1
                return item
            if self._waiting is not None:
                self.skipped += 1
            self._waiting = item
            return None

    def done(self) -> Optional[T]:
        """Mark one admitted input finished; return the waiting input that starts now, if any."""
        with self._lock:
            self.in_progress = max(0, self.in_progress - 1)
            if self._waiting is None or (self.limit and self.in_progress >= self.limit):
                return None
            item, self._waiting = self._waiting, None
            self.in_progress += 1
            return item

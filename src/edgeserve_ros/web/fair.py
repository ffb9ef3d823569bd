"""
Round-robin across clients: the order in which waiting work gets a worker.

Each client's items stay in arrival order; :meth:`FairQueue.pop` takes the head of the
client whose turn it is, then moves that client behind the others. A client that sends
many items at once therefore gets one worker turn per round, like every other client with
work waiting: a small client waits behind at most one item of each other active client,
never behind a flooder's whole backlog (the gateway's decode pool, :mod:`.imaging`).
Not thread-safe: one event loop owns it.
"""

from __future__ import annotations

from collections import deque, OrderedDict
from typing import Deque, Dict, Generic, Hashable, Optional, TypeVar

T = TypeVar('T')


class FairQueue(Generic[T]):
    """FIFO per key, round-robin across keys."""

    def __init__(self) -> None:
        self._queues: 'OrderedDict[Hashable, Deque[T]]' = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        """Return the number of items waiting, all keys together."""
        return self._size

    def push(self, key: Hashable, item: T) -> None:
        """Append ``item`` to ``key``'s line (a new key joins the round last)."""
        self._queues.setdefault(key, deque()).append(item)
        self._size += 1

    def pop(self) -> Optional[T]:
        """Return the next item in round-robin order, or ``None`` when nothing waits."""
        if not self._queues:
            return None
        key, line = next(iter(self._queues.items()))
        item = line.popleft()
        self._size -= 1
        if line:
            self._queues.move_to_end(key)
        else:
            del self._queues[key]
        return item

    def remove(self, key: Hashable, item: T) -> bool:
        """Take ``item`` out of ``key``'s line; return whether it was waiting."""
        line = self._queues.get(key)
        if line is None:
            return False
        try:
            line.remove(item)
        except ValueError:
            return False
        self._size -= 1
        if not line:
            del self._queues[key]
        return True

    def waiting(self) -> Dict[Hashable, int]:
        """Return the items waiting per key (diagnostics and tests)."""
        return {key: len(line) for key, line in self._queues.items()}

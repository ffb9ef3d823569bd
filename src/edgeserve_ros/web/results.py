"""
Results of asynchronous requests (``202`` + id, then ``GET /v1/results/{id}``).

Bounded by count: when full, the oldest finished entry goes first; when every entry is
still pending, a new one is refused (the caller answers 429). Finished entries expire
after ``ttl`` seconds on the injected clock. Ids are random (``secrets``), never derived
from the request.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
import secrets
import threading
import time
from typing import Any, Callable, Dict, Optional


@dataclass
class Entry:
    """One async request: ``status`` pending | done, the response body once done."""

    id: str
    status: str = 'pending'
    code: int = 202
    body: Dict[str, Any] = field(default_factory=dict)
    finished: float = 0.0


class StoreFull(Exception):
    """Every slot of the store holds a pending request."""


class ResultStore:
    """
    Bounded id -> :class:`Entry` map.

    :param max_entries: entries kept at once
    :param ttl: seconds a finished entry stays readable
    :param clock: monotonic clock (injected in tests)
    """

    def __init__(self, max_entries: int, ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries, self.ttl, self.clock = max_entries, ttl, clock
        self._entries: 'OrderedDict[str, Entry]' = OrderedDict()
        self._lock = threading.Lock()
        self.dropped = 0

    def create(self) -> Entry:
        """Return a new pending entry; raise :class:`StoreFull` when no slot can be freed."""
        with self._lock:
            self._expire()
            if len(self._entries) >= self.max_entries:
                victim = next((k for k, e in self._entries.items() if e.status == 'done'), None)
                if victim is None:
                    raise StoreFull(f'{self.max_entries} async requests pending')
                del self._entries[victim]
                self.dropped += 1
            entry = Entry(secrets.token_urlsafe(12))
            self._entries[entry.id] = entry
            return entry

    def finish(self, entry_id: str, code: int, body: Dict[str, Any]) -> None:
        """Store the final answer of ``entry_id`` (ignored when it was dropped)."""
        with self._lock:
            entry = self._entries.get(entry_id)
            if entry is not None:
                entry.status, entry.code, entry.body = 'done', code, body
                entry.finished = self.clock()
                self._entries.move_to_end(entry_id)

    def get(self, entry_id: str) -> Optional[Entry]:
        """Return the entry, or None when unknown or expired."""
        with self._lock:
            self._expire()
            return self._entries.get(entry_id)

    def _expire(self) -> None:
        now = self.clock()
        for key in [k for k, e in self._entries.items()
                    if e.status == 'done' and now - e.finished > self.ttl]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

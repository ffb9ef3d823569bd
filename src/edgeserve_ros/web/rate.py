"""
Per-client rate share: no client may take more than ``rate`` images/s while others are active.

A client alone may use the whole gateway. Once another client has sent within the last
``active_s`` seconds, each client is paced to ``rate`` images per second with a burst of
``burst`` images (GCRA, the generic cell rate algorithm: one "theoretical arrival time" per
client). The gateway waits out a WebSocket's delay before reading its next frame, so a
flooding socket is slowed by TCP, not queued. HTTP requests mark their client active
(:meth:`touch`) but are not paced: their bodies would wait in memory, so an HTTP client is
held by admission's ``max_client_queue`` and 429 instead. Admission (:mod:`.admission`)
bounds what is in flight; this bounds how fast one socket may refill it, which is what keeps
a flooder's decoding and answering from taking the CPU the small clients' frames need.
Not thread-safe: one event loop owns it.
"""

from __future__ import annotations

import time
from typing import Callable, Dict

#: Seconds after its last image that a client still counts as active.
ACTIVE_S = 1.0


class RateShare:
    """
    GCRA pacing per client, applied only while more than one client is active.

    :param rate: images per second one client may send while others are active
    :param burst: images a client may send at once beyond its pace
    :param active_s: a client that sent within this many seconds counts as active
    :param clock: monotonic seconds (injected in tests)
    """

    def __init__(self, rate: float, burst: int, active_s: float = ACTIVE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1 or active_s <= 0:
            raise ValueError(f'rate={rate}, burst={burst}, active_s={active_s}: must be > 0')
        self.interval, self.tolerance = 1.0 / rate, (burst - 1) / rate
        self.active_s, self.clock = active_s, clock
        self._tat: Dict[str, float] = {}
        self._seen: Dict[str, float] = {}
        self.paced = 0  # images that had to wait (WebSocket) or were refused (HTTP)

    def _contended(self, client: str, now: float) -> bool:
        if len(self._seen) > 64:  # forget clients gone quiet (bounded by the active ones)
            self._seen = {c: t for c, t in self._seen.items() if now - t <= self.active_s}
            self._tat = {c: t for c, t in self._tat.items() if c in self._seen}
        self._seen[client] = now
        return any(c != client and now - t <= self.active_s for c, t in self._seen.items())

    def charge(self, client: str, count: int = 1) -> float:
        """Charge ``count`` images to ``client``; return the seconds to wait first (0: now)."""
        now = self.clock()
        start = max(self._tat.get(client, now), now)
        if not self._contended(client, now):
            self._tat[client] = now  # alone: no pacing, and no debt carried into contention
            return 0.0
        self._tat[client] = start + count * self.interval
        delay = max(0.0, start - now - self.tolerance)
        self.paced += count if delay > 0 else 0
        return delay

    def touch(self, client: str) -> None:
        """Mark ``client`` active without pacing it (an HTTP request)."""
        self._contended(client, self.clock())

    def forget(self, client: str) -> None:
        """Drop ``client`` (its socket closed): it no longer counts as active."""
        self._tat.pop(client, None)
        self._seen.pop(client, None)

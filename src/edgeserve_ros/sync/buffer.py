"""Per-stream header buffer: bounded, stamp-ordered, O(1) amortised per header."""

from collections import deque
import math
from typing import Deque, List, Optional, Tuple

from .stats import StreamStats

# (corrected stamp, arrival, seq, original stamp)
Entry = Tuple[float, float, int, float]
EWMA_GAIN = 0.125


class StreamBuffer:
    """
    Headers of one stream that arrived but have not been emitted yet.

    Headers are accepted only with strictly increasing (corrected) stamps, so
    the queue is ordered by stamp and, as headers are added in arrival order,
    by arrival too.  ``last`` is the most recently emitted entry (the
    last-known-good once nothing newer fits).
    """

    __slots__ = ('name', 'required', 'bound', 'queue', 'last', 'newest', 'interval', 'delay',
                 'jitter', 'stats', 'late', 'arrived', 'outage')

    def __init__(self, name: str, required: bool, bound: int, stats: StreamStats,
                 late: Tuple[float, float, float] = (math.inf, math.inf, 0.0)) -> None:
        """
        Create an empty buffer bounded to ``bound`` entries.

        :param late: ``(late_factor, max_skew, default_interval)``. A stream silent for
            more than ``late_factor`` intervals + ``max_skew`` had an outage; the burst that
            ends it (the backlog a reliable writer re-sends, delivered back to back, each
            more than ``max_skew`` later than the stream's usual delay) does not update the
            delay and jitter estimates, which predict the *next* punctual arrival. Learning
            from it made a recovered stream look seconds late, so it was imputed for 4-8 s
            after it was back (bench host_cutoff). The first header that is punctual or
            arrives spaced like its stamps ends the outage.
        """
        self.late = late
        self.arrived = -math.inf
        self.outage = False
        self.name = name
        self.required = required
        self.bound = bound
        self.queue: Deque[Entry] = deque()
        self.last: Optional[Entry] = None
        self.newest = float('-inf')
        self.interval: Optional[float] = None
        self.delay: Optional[float] = None
        self.jitter = 0.0
        self.stats = stats

    def _backlog(self, entry: Entry) -> bool:
        """Whether ``entry`` belongs to the burst that ends an outage (see ``__init__``)."""
        late_factor, max_skew, default_interval = self.late
        interval = default_interval if self.interval is None else self.interval
        since = entry[1] - self.arrived
        self.arrived = entry[1]
        if since > late_factor * interval + max_skew:
            self.outage, burst = True, True  # the first header after the silence
        else:
            burst = since < interval / 2
        backlog = (self.outage and burst and self.delay is not None
                   and entry[1] - entry[0] > self.delay + max_skew)
        self.outage = backlog
        return backlog

    def push(self, entry: Entry) -> bool:
        """Buffer ``entry``; return False if it was rejected as stale."""
        stats = self.stats
        stats.received += 1
        gap = entry[0] - self.newest
        if not gap > 0:
            stats.stale += 1
            return False
        if self._backlog(entry):
            stats.backlog += 1
        elif self.interval is None:
            if self.newest != float('-inf'):
                self.interval = gap
        else:
            assert self.delay is not None  # known from the previous header
            error = abs(entry[1] - (self.newest + self.interval + self.delay))
            self.jitter += EWMA_GAIN * (error - self.jitter)
            self.interval += EWMA_GAIN * (gap - self.interval)
        if not self.outage:
            delay = entry[1] - entry[0]
            self.delay = delay if self.delay is None else self.delay + EWMA_GAIN * (
                delay - self.delay)
        self.newest = entry[0]
        queue = self.queue
        queue.append(entry)
        if len(queue) > self.bound:
            queue.popleft()
            stats.dropped += 1
        return True

    def expire(self, tick: float, max_age: float) -> None:
        """Discard entries older than ``max_age`` at ``tick``."""
        queue = self.queue
        while queue and tick - queue[0][0] > max_age:
            queue.popleft()
            self.stats.expired += 1

    def candidates(self, emit_time: float) -> List[Entry]:
        """Return the entries that arrived by ``emit_time``, oldest first (any stamp)."""
        out = []
        for entry in self.queue:
            if entry[1] > emit_time:
                break
            out.append(entry)
        return out

    def consume(self, entry: Entry) -> None:
        """Mark ``entry`` emitted: drop it and everything older from the queue."""
        queue = self.queue
        while queue:
            head = queue.popleft()
            if head is entry:
                break
            self.stats.downsampled += 1
        self.last = entry

    def overdue(self, tick: float, entry: Entry, late_factor: float, max_skew: float,
                default_interval: float) -> bool:
        """
        Return whether the stream should have sent something newer than ``entry``.

        ``default_interval`` stands in for the mean stamp interval until two headers
        have been seen.
        """
        interval = default_interval if self.interval is None else self.interval
        return tick - entry[0] > late_factor * interval + max_skew

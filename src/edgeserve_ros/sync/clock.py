"""
Clock offset estimation across hosts.

Sources stamp headers with their own clocks.  If a source's clock is 200 ms
ahead, its headers look 200 ms newer than they are: they never fall into the
same skew window as the other streams (or pair with the wrong messages) and
their ages are wrong.  Two estimators give ``offset`` such that
``stamp + offset`` is the stamp expressed in the receiver's clock:

* :class:`EnvelopeOffsetEstimator` -- one-way, from ``(stamp, arrival)`` pairs
  the synchronizer sees anyway: the lower envelope (sliding-window minimum) of
  ``arrival - stamp``.  This estimates ``clock difference + minimum latency``;
  the two cannot be separated from one-way samples, so a source with a larger
  minimum latency looks "behind" by that latency.  :class:`StampCorrector`
  therefore expresses all stamps in a *reference source's* clock, which cancels
  the common part and keeps that source's stamps untouched.
* :class:`PingOffsetEstimator` -- two-way, NTP style, from explicit ping pairs;
  error bounded by half the round trip of the best (lowest delay) sample.

Both are O(1) amortised per sample (monotonic deque over a time window).
"""

from collections import deque
from typing import Deque, Dict, Iterable, Optional, Tuple


class _WindowMin:
    """Sliding-window minimum of ``key`` over samples ``(time, key, value)``."""

    __slots__ = ('window', '_dq')

    def __init__(self, window: float) -> None:
        if not window > 0:
            raise ValueError(f'window: must be > 0, got {window!r}')
        self.window = float(window)
        self._dq: Deque[Tuple[float, float, float]] = deque()

    def push(self, time: float, key: float, value: float) -> float:
        dq = self._dq
        while dq and dq[-1][1] >= key:
            dq.pop()
        dq.append((time, key, value))
        limit = time - self.window
        while dq[0][0] < limit:
            dq.popleft()
        return dq[0][2]

    def best(self) -> Optional[float]:
        return self._dq[0][2] if self._dq else None


class EnvelopeOffsetEstimator:
    """
    One-way offset: sliding-window minimum of ``arrival - stamp``.

    :param window: window length in seconds of arrival time.
    """

    def __init__(self, window: float = 10.0) -> None:
        """Create an estimator with no samples."""
        self._min = _WindowMin(window)

    def update(self, stamp: float, arrival: float) -> float:
        """Add one sample and return the current offset estimate."""
        delta = arrival - stamp
        return self._min.push(arrival, delta, delta)

    @property
    def offset(self) -> Optional[float]:
        """Return the current estimate of ``receiver clock - source clock`` (+ min latency)."""
        return self._min.best()


class PingOffsetEstimator:
    """
    Two-way (NTP) offset from ping pairs, keeping the lowest-delay sample.

    A ping is sent at ``t0`` (receiver clock), received at ``t1`` and answered at
    ``t2`` (source clock) and the answer received at ``t3`` (receiver clock).
    """

    def __init__(self, window: float = 60.0) -> None:
        """Create an estimator with no samples."""
        self._min = _WindowMin(window)

    def add_ping(self, t0: float, t1: float, t2: float, t3: float) -> float:
        """Add one ping pair and return the current offset estimate."""
        delay = (t3 - t0) - (t2 - t1)
        if delay < 0:
            raise ValueError(f'ping: negative round-trip delay {delay!r}')
        offset = ((t0 - t1) + (t3 - t2)) / 2.0
        return self._min.push(t3, delay, offset)

    @property
    def offset(self) -> Optional[float]:
        """Return the current estimate of ``receiver clock - source clock``."""
        return self._min.best()


class StampCorrector:
    """
    Per-source envelope estimators; maps stamps into the reference source's clock.

    ``correct(s, stamp, arrival) = stamp + offset[s] - offset[reference]``; before
    the reference source has been seen, stamps pass through unchanged.

    :param streams: the source names.
    :param reference: the source whose clock is kept.
    :param window: estimator window, seconds.
    """

    def __init__(self, streams: Iterable[str], reference: str, window: float) -> None:
        """Create one estimator per source."""
        self._est: Dict[str, EnvelopeOffsetEstimator] = {
            s: EnvelopeOffsetEstimator(window) for s in streams}
        self._ref = self._est[reference]

    def correct(self, stream: str, stamp: float, arrival: float) -> float:
        """Update ``stream``'s estimate with this sample and return the corrected stamp."""
        off = self._est[stream].update(stamp, arrival)
        ref = self._ref.offset
        return stamp if ref is None else stamp + off - ref

    def offsets(self) -> Dict[str, Optional[float]]:
        """Return the current offset estimate per source."""
        return {s: e.offset for s, e in self._est.items()}

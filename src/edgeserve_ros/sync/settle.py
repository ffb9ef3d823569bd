"""
The freshest consistent set and when it cannot improve (rclpy-free; see docs/synchronizer.md).

Choice (:func:`freshest`): among the headers not emitted yet that arrived by the decision time
``t``, let ``E`` be the newest stamp of a required stream.  The fresh members are chosen by
:func:`.select.choose_fresh` among the candidates stamped at or after ``E - max_skew``: the
window holds ``E``, so every fresh member is its stream's newest header that keeps the fresh
set within ``max_skew``; a stream whose newest header is older than that window is not fresh
(it is imputed with that header, see :mod:`.core`).

Emission.  For tick ``T`` the wait budget ends at ``D = T + max_skew``.  A stream buffer
predicts the arrival of its next header from its mean stamp interval and mean delay
(arrival - stamp), ``a = newest + interval + delay`` (not before ``t``), with ``j`` its mean
absolute prediction error (``period`` stands in for an unknown interval).  A required
stream is *expected* while ``a + MARGIN * j <= D``: not when overdue (silent for more than
``late_factor`` intervals + ``max_skew``, the imputation test); a stream never heard from is
expected (at once) only during ``late_factor`` periods + ``max_skew`` after the start.
The tuple is emitted at the first ``t >= T`` at which

1. every required stream has *reported* -- delivered a header stamped at or after ``T``
   (headers of a stream are accepted in stamp order, so nothing it sends later is stamped at
   or before the tick) -- or may not deliver within the budget: the set cannot improve; or
2. a header arriving at ``t`` is a fresh member and every expected stream is fresh: the
   set's newest data has just arrived, so waiting could only trade age for data stamped after
   it; or
3. ``t = D``: the wait budget is spent.
"""

import math
from typing import List, Optional, Sequence

from .buffer import Entry, StreamBuffer
from .config import SyncConfig
from .select import choose_fresh

#: Mean absolute prediction errors kept as a margin before the deadline.
MARGIN = 2.0


def freshest(cands: Sequence[List[Entry]], required: Sequence[bool],
             max_skew: float) -> List[Optional[Entry]]:
    """Return, per stream, its fresh member (or ``None``) in the freshest consistent set."""
    tops = [c[-1][0] for c, r in zip(cands, required) if c and r]
    if not tops:
        return choose_fresh(cands, required, max_skew)
    floor = max(tops) - max_skew
    return choose_fresh([[e for e in c if e[0] >= floor] for c in cands], required, max_skew)


def next_arrival(buf: StreamBuffer, tick: float, now: float, cfg: SyncConfig,
                 start: float) -> float:
    """Return the expected arrival of ``buf``'s next header (``inf``: none expected)."""
    if buf.newest == -math.inf:
        grace = cfg.late_factor * cfg.period + cfg.max_skew
        return now if tick - start <= grace else math.inf
    interval = cfg.period if buf.interval is None else buf.interval
    if tick - buf.newest > cfg.late_factor * interval + cfg.max_skew:
        return math.inf
    return max(buf.newest + interval + (buf.delay or 0.0), now)


def final(bufs: Sequence[StreamBuffer], tick: float, now: float, cfg: SyncConfig,
          start: float) -> bool:
    """Rule 1: every required stream reported or is not expected within the budget."""
    deadline = tick + cfg.max_skew
    return all(not b.required or b.newest >= tick
               or next_arrival(b, tick, now, cfg, start) + MARGIN * b.jitter > deadline
               for b in bufs)


def complete(bufs: Sequence[StreamBuffer], fresh: Sequence[Optional[Entry]], tick: float,
             now: float, cfg: SyncConfig, start: float) -> bool:
    """Rule 2's condition: every required stream expected within the budget is fresh."""
    deadline = tick + cfg.max_skew
    return all(f is not None or not b.required
               or next_arrival(b, tick, now, cfg, start) + MARGIN * b.jitter > deadline
               for b, f in zip(bufs, fresh))

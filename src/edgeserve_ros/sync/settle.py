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
``late_factor`` intervals + ``max_skew``, the imputation test), and not without an estimate
to wait on: a stream never heard from, or one heard from once whose guessed interval
(``period``) has already passed.  Rule 1 does not fire while the tuple would be empty.
The tuple is emitted at the first ``t >= T`` at which

1. every required stream has *reported* -- delivered a header stamped at or after ``T``
   (headers of a stream are accepted in stamp order, so nothing it sends later is stamped at
   or before the tick) -- or may not deliver within the budget: the set cannot improve; or
2. a header arriving at ``t`` is a fresh member, every expected stream is fresh, and waiting
   is not expected to lower the newest-member age (:func:`worth_waiting`); or
3. ``t = D``: the wait budget is spent.

Rule 2's last condition: let ``E`` be the newest fresh stamp, so emitting now gives age
``c = t - E``.  A required stream whose next header is predicted to arrive at ``a`` in
``(t, D]``, stamped ``s = newest + interval > E`` and within ``max_skew`` of every other fresh
member, would replace the set's newest data with a header of expected age ``d`` (its mean
delay).  With the arrival error modelled as Laplace with mean absolute error ``j`` it arrives
after ``D`` with probability ``p = exp(-(D - a) / j) / 2``, and then the tuple goes out at
``D`` with age ``D - E``.  The set waits when ``(1 - p) d + p (D - E) < c`` for some such
stream: the expected age of waiting is lower than the age of emitting now.  Rule 1 is not
held back, so the emission is never later than the first moment the set is final.
"""

import math
from typing import List, Optional, Sequence

from .buffer import Entry, StreamBuffer
from .config import SyncConfig
from .select import choose_fresh

#: Mean absolute prediction errors kept as a margin before the deadline.
MARGIN = 2.0
#: Seconds by which waiting must lower the expected age (float rounding of stamps/EWMAs).
EPSILON = 1e-9


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
        return math.inf
    interval = cfg.period if buf.interval is None else buf.interval
    if tick - buf.newest > cfg.late_factor * interval + cfg.max_skew:
        return math.inf
    predicted = buf.newest + interval + (buf.delay or 0.0)
    if buf.interval is None and predicted < now:
        return math.inf  # the guessed interval is already disproved: nothing to wait on
    return max(predicted, now)


def final(bufs: Sequence[StreamBuffer], tick: float, now: float, cfg: SyncConfig,
          start: float) -> bool:
    """Rule 1: every required stream reported or is not expected within the budget."""
    deadline = tick + cfg.max_skew
    return all(not b.required or b.newest >= tick
               or next_arrival(b, tick, now, cfg, start) + MARGIN * b.jitter > deadline
               for b in bufs)


def worth_waiting(bufs: Sequence[StreamBuffer], fresh: Sequence[Optional[Entry]], tick: float,
                  now: float, cfg: SyncConfig, start: float) -> bool:
    """Rule 2's hold: waiting for a predicted header lowers the expected newest-member age."""
    stamps = [f[0] for f in fresh if f is not None]
    if not stamps:
        return False
    deadline = tick + cfg.max_skew
    newest = max(stamps)
    age_now = now - newest
    for b, f in zip(bufs, fresh):
        if not b.required or b.newest == -math.inf or b.interval is None or b.delay is None:
            continue
        arrival = next_arrival(b, tick, now, cfg, start)
        stamp = b.newest + b.interval
        if not now < arrival <= deadline or stamp <= newest:
            continue
        others = [g[0] for g in fresh if g is not None and g is not f]
        if others and stamp - min(others) > cfg.max_skew:
            continue
        late = 0.5 * math.exp(-(deadline - arrival) / b.jitter) if b.jitter > 0 else 0.0
        if (1.0 - late) * b.delay + late * (deadline - newest) < age_now - EPSILON:
            return True
    return False


def complete(bufs: Sequence[StreamBuffer], fresh: Sequence[Optional[Entry]], tick: float,
             now: float, cfg: SyncConfig, start: float) -> bool:
    """Rule 2's condition: every required stream expected within the budget is fresh."""
    deadline = tick + cfg.max_skew
    return all(f is not None or not b.required
               or next_arrival(b, tick, now, cfg, start) + MARGIN * b.jitter > deadline
               for b, f in zip(bufs, fresh))

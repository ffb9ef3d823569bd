"""
Timer-driven, bounded-skew stream synchronizer (EdgeServe section 5), rclpy-free.

Ticks are ``start_time + k * period``.  The tuple for tick ``T`` describes the
streams as of ``T``: only headers with (clock-corrected) stamp ``<= T`` and age
``T - stamp <= max_age`` are considered, and only those that arrived by the
tuple's emission time ``t``.  ``t`` is ``T + max_skew`` (wait for late
arrivals), or earlier -- but never before ``T`` -- as soon as every required
stream has delivered a header stamped after ``T`` (its contribution cannot
improve any more).  Per stream the member is:

* ``fresh``: a header not emitted before, chosen by :func:`.select.choose_fresh`
  so that the fresh members span at most ``max_skew``;
* ``reused``: no newer header arrived, the stream's last emitted header is
  given again (upsampling a stream slower than the output), unless overdue;
* ``imputed``: last-known-good -- the newest header with stamp ``<= T`` -- for
  a stream that is overdue (see ``late_factor``) or whose newer headers did not
  fit the skew window;
* ``None``: nothing within ``max_age``.

Policies, applied per tick:

* ``impute``: imputed members are used; missing streams are ``None``;
* ``partial``: no imputation -- would-be imputed members are ``None``
  (fresh and reused members are kept);
* ``skip``: like ``impute``, but if a *required* stream is still ``None`` the
  tuple is dropped (``stats.ticks_skipped``) and nothing is consumed.

A tick with no member at all is never emitted (``stats.ticks_empty``).  Fast
streams are thereby down-sampled, slow ones up-sampled, and one dead stream
delays a tuple by at most ``max_skew``.  The output is a pure function of the
sequence of :meth:`Synchronizer.add` / :meth:`Synchronizer.advance` calls.
"""

import math
from typing import Dict, List, Optional

from .buffer import Entry, StreamBuffer
from .clock import StampCorrector
from .config import SyncConfig
from .select import choose_fresh
from .stats import StreamStats, SyncStats
from .types import FRESH, HeaderEvent, IMPUTED, Member, REUSED, SyncTuple


class Synchronizer:
    """
    Bounded-skew synchronizer; feed headers in arrival order, collect tuples.

    :param config: the parameters.
    :param start_time: time of the first tick.
    """

    def __init__(self, config: SyncConfig, start_time: float) -> None:
        """Create a synchronizer whose first tick is ``start_time``."""
        self.config = config
        self.stats = SyncStats()
        self._bufs: List[StreamBuffer] = []
        for spec in config.streams:
            st = self.stats.streams[spec.name] = StreamStats()
            self._bufs.append(StreamBuffer(spec.name, spec.required,
                                           config.queue_bound(spec), st))
        self._by_name = {b.name: b for b in self._bufs}
        self._required = [b.required for b in self._bufs]
        self._corrector: Optional[StampCorrector] = None
        if config.clock == 'envelope':
            self._corrector = StampCorrector(
                config.names, config.reference or config.names[0], config.clock_window)
        self._start = float(start_time)
        self._k = -1
        self._now = -math.inf
        self._out: List[SyncTuple] = []
        self._tick: float
        self._due: float
        self._pending: int
        self._next_tick()

    @property
    def next_tick(self) -> float:
        """Return the tick of the next tuple to be decided."""
        return self._tick

    @property
    def next_due(self) -> float:
        """Latest time at which the next tuple will be decided (given no more headers)."""
        return self._due

    def add(self, event: HeaderEvent) -> None:
        """
        Offer one header; tuples due before its arrival are emitted first.

        Headers must come in arrival order; an earlier arrival is raised to the
        synchronizer's clock (``stats.clamped``).
        """
        arrival = event.arrival
        if arrival < self._now:
            arrival = self._now
            self.stats.clamped += 1
        if arrival > self._due:
            self._run(arrival, True)
        self._now = arrival
        buf = self._by_name.get(event.stream)
        if buf is None:
            self.stats.unknown += 1
            return
        stamp = event.stamp
        if self._corrector is not None:
            stamp = self._corrector.correct(buf.name, stamp, arrival)
        before = buf.newest
        if not buf.push((stamp, arrival, event.seq, event.stamp)):
            return
        if buf.required and before <= self._tick < stamp:
            self._pending -= 1
            if self._pending == 0:
                self._due = max(self._tick, arrival)

    def take(self) -> List[SyncTuple]:
        """Return (and forget) the tuples emitted so far without advancing the clock."""
        out, self._out = self._out, []
        return out

    def advance(self, now: float) -> List[SyncTuple]:
        """Advance the clock to ``now``; return every tuple emitted since the last call."""
        if now >= self._now:
            self._run(now, False)
            self._now = now
        return self.take()

    def _next_tick(self) -> None:
        self._k += 1
        tick = self._tick = self._start + self._k * self.config.period
        self._pending = sum(1 for b in self._bufs if b.required and b.newest <= tick)
        deadline = tick + self.config.max_skew
        self._due = deadline if self._pending else min(max(tick, self._now), deadline)

    def _run(self, now: float, strict: bool) -> None:
        while self._due < now or (not strict and self._due == now):
            self._emit(self._tick, self._due)
            self._next_tick()

    def _emit(self, tick: float, emit_time: float) -> None:
        cfg = self.config
        bufs = self._bufs
        if cfg.max_age != math.inf:
            for b in bufs:
                b.expire(tick, cfg.max_age)
        cands = [b.candidates(tick, emit_time) for b in bufs]
        fresh = choose_fresh(cands, self._required, cfg.max_skew)
        picks: List[Optional[Entry]] = []
        states: List[Optional[str]] = []
        for b, c, f in zip(bufs, cands, fresh):
            entry: Optional[Entry] = f
            state: Optional[str] = FRESH
            if f is None:
                entry = c[-1] if c else b.last
                if entry is None or tick - entry[0] > cfg.max_age:
                    entry = state = None
                elif entry is b.last and not b.overdue(tick, entry, cfg.late_factor,
                                                       cfg.max_skew, cfg.period):
                    state = REUSED
                elif cfg.policy == 'partial':
                    entry = state = None
                else:
                    state = IMPUTED
            picks.append(entry)
            states.append(state)
        if all(e is None for e in picks):
            self.stats.ticks_empty += 1
            return
        if cfg.policy == 'skip' and any(
                e is None and b.required for e, b in zip(picks, bufs)):
            self.stats.ticks_skipped += 1
            return
        self._out.append(self._build(tick, emit_time, picks, states))

    def _build(self, tick: float, emit_time: float, picks: List[Optional[Entry]],
               states: List[Optional[str]]) -> SyncTuple:
        members: Dict[str, Optional[Member]] = {}
        for b, entry, state in zip(self._bufs, picks, states):
            st = b.stats
            if entry is None:
                members[b.name] = None
                st.missing += 1
                continue
            if entry is not b.last:
                b.consume(entry)
            assert state is not None  # a picked entry always has a state
            setattr(st, state, getattr(st, state) + 1)
            members[b.name] = Member(entry[2], entry[3], state, tick - entry[0], entry[1])
        self.stats.tuples += 1
        return SyncTuple(tick, emit_time, members)

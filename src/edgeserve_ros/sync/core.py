"""
Timer-driven, bounded-skew stream synchronizer (EdgeServe section 5), rclpy-free.

Ticks are ``start_time + k * period``; one tuple per tick.  The tuple for tick ``T`` is
emitted at a time ``t`` with ``T <= t <= T + max_skew`` and holds the freshest consistent
set known at ``t`` (:func:`.settle.freshest`): among the headers not emitted before that
arrived by ``t`` and are at most ``max_age`` old at ``T`` (stamps may be later than ``T``;
then ``age = T - stamp < 0``), the fresh members lie within ``max_skew`` of the newest
required header, each the newest of its stream in that window.  ``t`` is the first moment
the set cannot improve (:mod:`.settle`: every required stream has delivered a header stamped
at or after ``T`` or is not expected within the budget; or a header that just arrived
completes it and waiting for a predicted fresher header is not expected to lower the
newest-member age), at the latest ``T + max_skew``.  Per stream the member is:

* ``fresh``: a header not emitted before, in the freshest consistent set;
* ``reused``: no newer header arrived, the stream's last emitted header is
  given again (upsampling a stream slower than the output), unless overdue;
* ``imputed``: last-known-good -- the stream's newest header within ``max_age`` -- for
  a stream that is overdue (see ``late_factor``) or whose newest header is older than the
  fresh window;
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
from . import settle
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
            self._bufs.append(StreamBuffer(spec.name, spec.required, config.queue_bound(spec),
                                           st, (config.late_factor, config.max_skew,
                                                config.period)))
        self._by_name = {b.name: b for b in self._bufs}
        self._required = [b.required for b in self._bufs]
        self._corrector: Optional[StampCorrector] = None
        if config.clock == 'envelope':
            self._corrector = StampCorrector(
                config.names, config.reference or config.names[0], config.clock_window)
        self._start = float(start_time)
        self._k = -1
        self._now = -math.inf
        self._emitted = -math.inf
        self._out: List[SyncTuple] = []
        self._tick: float
        self._due: float
        self._checked: bool
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
        self._run(arrival, True)
        self._now = arrival
        buf = self._by_name.get(event.stream)
        if buf is None:
            self.stats.unknown += 1
            return
        stamp = event.stamp
        if self._corrector is not None:
            stamp = self._corrector.correct(buf.name, stamp, arrival)
        entry = (stamp, arrival, event.seq, event.stamp)
        if buf.push(entry) and self._checked and self._due > arrival:
            self._assess(arrival, entry)

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
        self._tick = self._start + self._k * self.config.period
        self._due = self._tick + self.config.max_skew
        self._checked = False

    def _run(self, now: float, strict: bool) -> None:
        while True:
            if not self._checked and self._tick <= now:
                self._checked = True
                self._assess(max(self._tick, self._now, self._emitted), None)
            if not (self._due < now or (not strict and self._due == now)):
                return
            self._emit(self._tick, self._due)
            self._emitted = self._due
            self._next_tick()

    def _candidates(self, tick: float, emit_time: float) -> List[List[Entry]]:
        cfg = self.config
        if cfg.max_age != math.inf:
            for b in self._bufs:
                b.expire(tick, cfg.max_age)
        return [b.candidates(emit_time) for b in self._bufs]

    def _assess(self, now: float, arrived: Optional[Entry]) -> None:
        """Make the pending tuple due at ``now`` if it cannot improve (:mod:`.settle`)."""
        bufs, tick, cfg, start = self._bufs, self._tick, self.config, self._start
        if settle.final(bufs, tick, now, cfg, start) and self._has_data(tick, now):
            self._due = now
        elif arrived is not None:
            fresh = settle.freshest(self._candidates(tick, now), self._required, cfg.max_skew)
            if any(f is arrived for f in fresh) and settle.complete(
                    bufs, fresh, tick, now, cfg, start) and not settle.worth_waiting(
                        bufs, fresh, tick, now, cfg, start):
                self._due = now

    def _has_data(self, tick: float, now: float) -> bool:
        """Whether a tuple emitted at ``now`` would have a member (else waiting can only help)."""
        max_age = self.config.max_age
        return any(self._candidates(tick, now)) or any(
            b.last is not None and tick - b.last[0] <= max_age for b in self._bufs)

    def _emit(self, tick: float, emit_time: float) -> None:
        cfg = self.config
        bufs = self._bufs
        cands = self._candidates(tick, emit_time)
        fresh = settle.freshest(cands, self._required, cfg.max_skew)
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

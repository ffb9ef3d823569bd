"""
Synchronizer tuples as ROS messages, and payload assembly; rclpy-free.

Shared by :mod:`.sync_node` and :mod:`.approximate`: the fresh-member skew of a
tuple, the timer resolution that drives :meth:`.Synchronizer.advance`, the
:class:`~edgeserve_ros.msg.SyncedTuple` of a :class:`.SyncTuple` and
:class:`PayloadAssembler`, which attaches payloads to tuples (fetching each
``(stream, seq)`` at most once) and releases them in tick order.
"""

from __future__ import annotations

import array
from collections import deque
from dataclasses import dataclass, field
from functools import partial
import threading
from typing import Callable, Deque, Dict, Iterable, List, Mapping, Optional, Tuple

from std_msgs.msg import Header

from edgeserve_ros.msg import PayloadHeader, SyncedTuple, SyncMember
from edgeserve_ros.ros.timeconv import from_sec

from .types import FRESH, IMPUTED, Member, REUSED, SyncTuple

#: Core member states as :class:`SyncMember` constants.
STATE_CODES = {FRESH: SyncMember.STATE_FRESH, REUSED: SyncMember.STATE_REUSED,
               IMPUTED: SyncMember.STATE_IMPUTED}


def fresh_skew(members: Iterable[Optional[Member]], tick: float) -> float:
    """
    Return max minus min clock-corrected stamp of the fresh members (0 with fewer than 2).

    Corrected stamps are ``tick - age``: the stamps that ``max_skew`` bounds.
    """
    stamps = [tick - m.age for m in members if m is not None and m.state == FRESH]
    return max(stamps) - min(stamps) if len(stamps) > 1 else 0.0


def timer_period(period: float, max_skew: float) -> float:
    """
    Return the period of the timer that advances a synchronizer.

    A tuple is emitted at most one timer period after it is due; a fifth of the
    shorter of ``period`` and ``max_skew`` (when > 0), within [2 ms, 50 ms].
    """
    span = min(period, max_skew) if max_skew > 0 else period
    return min(0.05, max(0.002, span / 5.0))


#: rosidl keeps each field of a generated message in a ``_<field>`` slot. Its constructor
#: first builds a default of every nested field (a ``SyncMember()`` builds an empty
#: ``PayloadHeader``: 13 us of the 101 us a 4-member tuple took to build), so members are
#: made through ``__new__`` and their slots, with the same values (the tuple too). Checked
#: against the slots named here: a differently generated class falls back to the constructor.
_MEMBER_SLOTS = ('_stream', '_present', '_state', '_seq', '_stamp', '_age', '_arrival',
                 '_payload_header', '_payload_fetched', '_payload', '_check_fields')
_TUPLE_SLOTS = ('_header', '_tick', '_emit_time', '_skew', '_payloads_fetched', '_members',
                '_check_fields')
_FAST_SLOTS = (tuple(getattr(SyncMember, '__slots__', ())) == _MEMBER_SLOTS
               and tuple(getattr(SyncedTuple, '__slots__', ())) == _TUPLE_SLOTS)


def _member(stream: str, m: Member, header: PayloadHeader) -> SyncMember:
    """Return the ``SyncMember`` of a present member (see :data:`_MEMBER_SLOTS`)."""
    if not _FAST_SLOTS:
        return SyncMember(stream=stream, present=True, state=STATE_CODES[m.state], seq=m.seq,
                          stamp=from_sec(m.stamp), age=m.age, arrival=from_sec(m.arrival),
                          payload_header=header)
    member = SyncMember.__new__(SyncMember)
    member._check_fields = False
    member._stream, member._present, member._state = stream, True, STATE_CODES[m.state]
    member._seq, member._stamp, member._age = m.seq, from_sec(m.stamp), float(m.age)
    member._arrival, member._payload_header = from_sec(m.arrival), header
    member._payload_fetched, member._payload = False, array.array('B')
    return member


def tuple_message(t: SyncTuple, index: int,
                  headers: Mapping[str, Mapping[int, PayloadHeader]]) -> SyncedTuple:
    """
    Build the message of one core tuple.

    :param t: the tuple.
    :param index: its tick index.
    :param headers: per stream, the received headers by ``seq`` (a missing one leaves
        ``payload_header`` empty).
    """
    skew = fresh_skew(t.members.values(), t.tick)
    if _FAST_SLOTS:
        msg = SyncedTuple.__new__(SyncedTuple)
        msg._check_fields, msg._header = False, Header(stamp=from_sec(t.tick))
        msg._tick, msg._emit_time, msg._skew = index, from_sec(t.emit_time), float(skew)
        msg._payloads_fetched, msg._members = False, []
    else:
        msg = SyncedTuple(tick=index, emit_time=from_sec(t.emit_time), skew=skew)
        msg.header.stamp = from_sec(t.tick)
    members = msg.members
    for stream, m in t.members.items():
        header = None if m is None else headers.get(stream, {}).get(m.seq)
        if m is not None and header is not None:
            members.append(_member(stream, m, header))
            continue
        member = SyncMember(stream=stream)
        if m is not None:
            member.present, member.state, member.seq = True, STATE_CODES[m.state], m.seq
            member.stamp, member.age, member.arrival = from_sec(m.stamp), m.age, from_sec(
                m.arrival)
        members.append(member)
    return msg


@dataclass
class _Slot:
    seq: int
    done: bool = False
    data: Optional[bytes] = None
    waiters: List[Tuple['_Entry', int]] = field(default_factory=list)


@dataclass
class _Entry:
    msg: SyncedTuple
    waiting: int = 0


#: Callback a fetch reports to: the payload bytes, or None when the fetch failed.
Done = Callable[[Optional[bytes]], None]


class PayloadAssembler:
    """
    Attach payloads to tuples and release the tuples in order.

    Per stream the payload of the last ``seq`` used is cached (also while its fetch
    is still running), so a reused member -- or an imputed one repeating the last
    header -- never causes a second fetch; only members whose payload is not cached
    are fetched.  A failed fetch leaves ``payload_fetched`` false.

    :param publish: called with each completed tuple, in submission order.
    """

    def __init__(self, publish: Callable[[SyncedTuple], None]) -> None:
        self._publish = publish
        self._lock = threading.Lock()
        self._queue: Deque[_Entry] = deque()
        self._cache: Dict[str, _Slot] = {}
        self.fetches = 0

    @property
    def pending(self) -> int:
        """Tuples waiting for a payload."""
        return len(self._queue)

    def submit(self, msg: SyncedTuple) -> List[Tuple[PayloadHeader, Done]]:
        """
        Queue ``msg``; return the fetches to start, as ``(header, done)`` pairs.

        Each ``done`` must be called exactly once, from any thread.
        """
        msg.payloads_fetched = True
        fetches: List[Tuple[PayloadHeader, Done]] = []
        with self._lock:
            entry = _Entry(msg)
            self._queue.append(entry)
            for i, member in enumerate(msg.members):
                if not member.present:
                    continue
                slot = self._cache.get(member.stream)
                if slot is None or slot.seq != member.seq:
                    slot = self._cache[member.stream] = _Slot(member.seq)
                    self.fetches += 1
                    fetches.append((member.payload_header, partial(self._complete, slot)))
                if slot.done:
                    self._fill(entry, i, slot.data)
                else:
                    entry.waiting += 1
                    slot.waiters.append((entry, i))
            self._release()
        return fetches

    def _complete(self, slot: _Slot, data: Optional[bytes]) -> None:
        with self._lock:
            slot.done, slot.data = True, data
            for entry, i in slot.waiters:
                self._fill(entry, i, data)
                entry.waiting -= 1
            slot.waiters.clear()
            self._release()

    @staticmethod
    def _fill(entry: _Entry, index: int, data: Optional[bytes]) -> None:
        member = entry.msg.members[index]
        member.payload_fetched = data is not None
        if data is not None:
            member.payload = data

    def _release(self) -> None:
        while self._queue and self._queue[0].waiting == 0:
            self._publish(self._queue.popleft().msg)

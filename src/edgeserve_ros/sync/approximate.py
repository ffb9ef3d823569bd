"""
Drop-in, timer-driven replacement for ``message_filters.ApproximateTimeSynchronizer``.

Replace ::

    sync = message_filters.ApproximateTimeSynchronizer([sub_a, sub_b], 10, 0.05)
    sync.registerCallback(on_pair)

with ::

    sync = TimelySynchronizer([sub_a, sub_b], 10, 0.05, period=0.1)
    sync.registerCallback(on_pair)

The inputs are message_filters-style filters (objects with ``registerCallback(cb, *args)``):
the real ``message_filters.Subscriber``, ``message_filters.Cache`` or any
``message_filters.SimpleFilter`` (ROS 2), or :class:`edgeserve_ros.sync.filters.Subscriber`
where message_filters is not installed; the node comes from ``node=`` or the first input
that has a ``.node`` (a Subscriber). Messages need ``header.stamp``, as for ApproximateTime.
Porting is one import line::

  from edgeserve_ros.sync.approximate import TimelySynchronizer as ApproximateTimeSynchronizer

(``period`` is then estimated from the inputs' stamps). Unlike ApproximateTime, whose output
rate is capped by the slowest input, a tuple is produced every ``period`` (EdgeServe section 5):
fast inputs are down-sampled, slow ones reused, late ones imputed; ``slop`` bounds the stamp
span of the fresh members. See :mod:`edgeserve_ros.sync.core` for the exact semantics.

The callback is called as ``cb(msg_1, ..., msg_n, *args)`` with the inputs' messages in input
order (the reused or imputed message objects as such; ``None`` for a missing member, which
only happens with ``policy='partial'`` or ``'impute'`` once nothing is left within
``max_age``). If ``cb`` has a parameter named ``provenance`` (or ``**kwargs``) it also gets
``provenance=``:class:`Provenance`: tick, emit time, fresh-member skew and per input the
core :class:`~edgeserve_ros.sync.types.Member` (``state``, ``seq``, ``stamp``, ``age``).
Callbacks run on the node's executor (timer or subscription callbacks), one at a time.
"""

from __future__ import annotations

from collections import OrderedDict
import inspect
import math
import statistics
import threading
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from rclpy.node import Node

from .config import StreamSpec, SyncConfig
from .core import Synchronizer
from .tuples import fresh_skew, timer_period
from .types import HeaderEvent, Member, SyncTuple

#: Messages needed from one input to estimate ``period`` when it is not given.
ESTIMATE_SAMPLES = 6


class Provenance(NamedTuple):
    """Where a tuple's messages come from (passed as ``provenance=`` when accepted)."""

    tick: float
    emit_time: float
    skew: float
    members: Tuple[Optional[Member], ...]


def _wants_provenance(cb: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(cb).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == 'provenance' or p.kind is p.VAR_KEYWORD for p in params)


class TimelySynchronizer:
    """
    Synchronize message filters at a target rate with bounded skew.

    :param fs: input filters, in callback argument order.
    :param queue_size: messages buffered per input before the oldest is dropped.
    :param slop: bound on the stamp span of the fresh messages of a tuple, and the
        longest a tuple waits for a late input, seconds (ApproximateTime's ``slop``).
    :param period: output period, s; ``None``: the median stamp interval of the first
        input to deliver ``ESTIMATE_SAMPLES`` messages (nothing is emitted before).
    :param max_age: no message older than this is used, s; ``None``: no limit.
    :param policy: ``'impute'``, ``'partial'`` or ``'skip'`` (see :mod:`.core`).
    :param allow_headerless: stamp messages without ``header.stamp`` with their arrival
        time (else they are dropped with a warning).
    :param node: node for the timer and the clock; default the first filter's ``node``.
    :raises ValueError: an invalid parameter (the message starts with its name).
    """

    node: Node

    def __init__(self, fs: Sequence[Any], queue_size: int, slop: float,
                 period: Optional[float] = None, max_age: Optional[float] = None,
                 policy: str = 'impute', allow_headerless: bool = False,
                 node: Optional[Node] = None) -> None:
        self.queue_size, self.slop, self.period = queue_size, slop, period
        self.max_age = math.inf if max_age is None else max_age
        self.policy, self.allow_headerless = policy, allow_headerless
        self.callbacks: Dict[int, Tuple[Callable[..., Any], Tuple[Any, ...], bool]] = {}
        self.sync: Optional[Synchronizer] = None
        self._node = node
        self._lock = threading.RLock()
        self._timer: Any = None
        self._warned = False
        self.connectInput(fs)

    def connectInput(self, fs: Sequence[Any]) -> None:  # noqa: N802
        """(Re)connect to the input filters ``fs``; buffered state is dropped."""
        fs = list(fs)
        node = self._node or next((f.node for f in fs if getattr(f, 'node', None)), None)
        if node is None:
            raise ValueError('node: pass node= or at least one filter that has a .node '
                             '(a Subscriber; a Cache or SimpleFilter has none)')
        with self._lock:
            self._names = [f'{i}:{getattr(f, "topic", "")}' for i, f in enumerate(fs)]
            self._msgs: List['OrderedDict[int, Any]'] = [OrderedDict() for _ in fs]
            self._seq = [0] * len(fs)
            self._warmup: List[Tuple[int, HeaderEvent]] = []
            self.sync = None
            self._config(1.0 if self.period is None else self.period)  # validate now
            if self._timer is not None:
                self.node.destroy_timer(self._timer)
            self.node = node
            self._timer = node.create_timer(timer_period(self.period or self.slop or 0.01,
                                                         self.slop), self._on_timer)
            for i, f in enumerate(fs):
                f.registerCallback(self._add, i)

    def registerCallback(self, cb: Callable[..., Any], *args: Any) -> int:  # noqa: N802
        """Call ``cb(*msgs, *args[, provenance=...])`` for every tuple; return its id."""
        with self._lock:
            conn = len(self.callbacks)
            self.callbacks[conn] = (cb, args, _wants_provenance(cb))
        return conn

    def close(self) -> None:
        """Stop the timer (the inputs stay connected but are ignored)."""
        with self._lock:
            if self._timer is not None:
                self.node.destroy_timer(self._timer)
                self._timer = None
            self.callbacks.clear()

    def _config(self, period: float) -> SyncConfig:
        try:
            return SyncConfig(period=period, max_skew=self.slop, max_age=self.max_age,
                              policy=self.policy, queue_size=self.queue_size,
                              streams=tuple(StreamSpec(n) for n in self._names))
        except ValueError as exc:
            raise ValueError(str(exc).replace('max_skew:', 'slop:', 1)) from None

    def _now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _add(self, msg: Any, index: int) -> None:
        now = self._now()
        stamp_msg = getattr(getattr(msg, 'header', None), 'stamp', None)
        if stamp_msg is None and not self.allow_headerless:
            if not self._warned:
                self._warned = True
                self.node.get_logger().warning(
                    'TimelySynchronizer: dropping messages without header.stamp '
                    '(allow_headerless=False)')
            return
        stamp = now if stamp_msg is None else stamp_msg.sec + stamp_msg.nanosec * 1e-9
        with self._lock:
            seq = self._seq[index]
            self._seq[index] = seq + 1
            kept = self._msgs[index]
            kept[seq] = msg
            while len(kept) > 2 * self.queue_size + 4:
                kept.popitem(last=False)
            event = HeaderEvent(self._names[index], seq, stamp, now)
            if self.sync is None:
                self._start(index, event, now)
            else:
                self.sync.add(event)
            if self.sync is not None:
                self._deliver(self.sync.advance(now))

    def _start(self, index: int, event: HeaderEvent, now: float) -> None:
        """Start the core once the period is known, replaying the warm-up messages."""
        period = self.period
        if period is None:
            self._warmup.append((index, event))
            stamps = [e.stamp for i, e in self._warmup if i == index]
            if len(stamps) < ESTIMATE_SAMPLES:
                return
            period = statistics.median(b - a for a, b in zip(stamps, stamps[1:]))
            if not period > 0:
                return
            self.period = period
        self.sync = Synchronizer(self._config(period), math.ceil(now / period) * period)
        for _, e in self._warmup or [(index, event)]:
            self.sync.add(e)
        self._warmup = []

    def _on_timer(self) -> None:
        with self._lock:
            if self.sync is not None:
                self._deliver(self.sync.advance(self._now()))

    def _deliver(self, tuples: List[SyncTuple]) -> None:
        for t in tuples:
            members = tuple(t.members.values())
            msgs = [None if m is None else kept.get(m.seq)
                    for m, kept in zip(members, self._msgs)]
            prov = Provenance(t.tick, t.emit_time, fresh_skew(members, t.tick), members)
            for cb, args, wants in list(self.callbacks.values()):
                if wants:
                    cb(*msgs, *args, provenance=prov)
                else:
                    cb(*msgs, *args)

"""
The pure core of EdgeServe's ``shared_queue()`` operator (paper §4.2, §6.5).

A :class:`ShardQueue` multiplexes one stream of items over several workers that pull
when they become available (as the manager of a socket image-recognition cluster
hands images to free workers).  Time is passed in; there are no threads.

Guarantees:

* each accepted item is leased to one worker at a time; a lease lasts
  ``lease_timeout_s`` and is extended by :meth:`ShardQueue.heartbeat` for the items the
  worker says it holds (an item leased in an answer the worker never got expires);
* the items of a worker that dies or stalls (lease expired) are re-sent, at the front
  of the queue, preferably to a worker that has not tried them yet; so are, at once, the
  items a worker's pull no longer lists as held (it dropped them or never received them:
  ``heartbeat(..., release=True)``), without waiting for their lease;
* results are deduplicated by item id: the first result is delivered, later ones
  (e.g. from the stalled worker) are dropped and counted;
* join affinity: items with the same ``join_key`` (the members of one synchronized
  tuple) go to the same worker while that worker is alive;
* bounded: at most ``capacity`` queued (not leased) items; overflow drops the oldest
  queued item (``drop='oldest'``) or the new one (``drop='newest'``), counted.

So every accepted, not dropped item gets exactly one delivered result as long as at
least one worker keeps pulling and completing.
"""

import itertools
from collections import OrderedDict
from typing import Any, Dict, Hashable, Iterable, List, NamedTuple, Optional, Set, Tuple


class Lease(NamedTuple):
    """One item handed to a worker; it must call :meth:`ShardQueue.complete` by ``deadline``."""

    item_id: Hashable
    payload: Any
    join_key: Optional[Hashable]
    worker: Hashable
    deadline: float
    attempt: int


class _Item:
    __slots__ = ('item_id', 'payload', 'join_key', 'seq', 'tried_by')

    def __init__(self, item_id: Hashable, payload: Any, join_key: Optional[Hashable],
                 seq: int) -> None:
        self.item_id, self.payload, self.join_key, self.seq = item_id, payload, join_key, seq
        self.tried_by: Set[Hashable] = set()


class ShardQueue:
    """
    Shared work queue with leases, dedup, join affinity and a bound.

    :param capacity: maximum number of queued (not leased) items.
    :param lease_timeout_s: lease length; also how long a silent worker counts as alive.
    :param drop: ``'oldest'`` or ``'newest'`` on overflow.
    :param memory: how many completed ids are remembered for deduplication.
    """

    def __init__(self, capacity: int = 1024, lease_timeout_s: float = 1.0,
                 drop: str = 'oldest', memory: int = 100_000, max_affinity: int = 4096) -> None:
        if drop not in ('oldest', 'newest'):
            raise ValueError(f"drop: expected 'oldest' or 'newest', got {drop!r}")
        self.capacity, self.lease_timeout_s, self.drop = capacity, lease_timeout_s, drop
        self._memory, self._max_affinity = memory, max_affinity
        self._seq = itertools.count()
        self._pending: 'OrderedDict[Hashable, _Item]' = OrderedDict()
        self._pinned: Dict[Hashable, 'OrderedDict[Hashable, _Item]'] = {}
        self._pinned_to: Dict[Hashable, Hashable] = {}
        self._leases: Dict[Hashable, Tuple[Hashable, float, _Item]] = {}
        self._affinity: 'OrderedDict[Hashable, Hashable]' = OrderedDict()
        self._done: 'OrderedDict[Hashable, None]' = OrderedDict()
        self._seen: Dict[Hashable, float] = {}
        self._results: List[Tuple[Hashable, Any, Hashable]] = []
        self.stats: Dict[str, int] = dict.fromkeys(
            ('accepted', 'dropped_full', 'duplicate_puts', 'resent', 'released', 'delivered',
             'duplicate_results', 'unknown_results'), 0)

    # -- queue state -------------------------------------------------------------------
    def queued_count(self) -> int:
        """Return the number of queued (not leased) items."""
        return len(self._pending) + len(self._pinned_to)

    def leased_count(self) -> int:
        """Return the number of items currently leased."""
        return len(self._leases)

    def workers_seen(self) -> int:
        """Return how many distinct workers have pulled so far."""
        return len(self._seen)

    def _known(self, item_id: Hashable) -> bool:
        return (item_id in self._pending or item_id in self._pinned_to
                or item_id in self._leases or item_id in self._done)

    def _alive(self, worker: Hashable, now: float) -> bool:
        return now - self._seen.get(worker, float('-inf')) < self.lease_timeout_s

    def _drop_oldest(self) -> None:
        heads = [(q[next(iter(q))].seq, w) for w, q in self._pinned.items() if q]
        if self._pending:
            heads.append((self._pending[next(iter(self._pending))].seq, None))
        _, worker = min(heads, key=lambda h: h[0])
        if worker is None:
            self._pending.popitem(last=False)
        else:
            item_id, _ = self._pinned[worker].popitem(last=False)
            del self._pinned_to[item_id]
        self.stats['dropped_full'] += 1

    # -- producer ------------------------------------------------------------------------
    def put(self, item_id: Hashable, payload: Any, now: float,
            join_key: Optional[Hashable] = None) -> bool:
        """Enqueue an item; return ``False`` if it was refused (duplicate id or full)."""
        if self._known(item_id):
            self.stats['duplicate_puts'] += 1
            return False
        if self.queued_count() >= self.capacity:
            if self.drop == 'newest' or self.capacity <= 0:
                self.stats['dropped_full'] += 1
                return False
            self._drop_oldest()
        item = _Item(item_id, payload, join_key, next(self._seq))
        owner = self._affinity.get(join_key) if join_key is not None else None
        if owner is not None and self._alive(owner, now):
            self._pinned.setdefault(owner, OrderedDict())[item_id] = item
            self._pinned_to[item_id] = owner
        else:
            self._pending[item_id] = item
        self.stats['accepted'] += 1
        return True

    # -- workers -------------------------------------------------------------------------
    def _eligible(self, item: _Item, worker: Hashable, now: float) -> bool:
        if worker not in item.tried_by:
            return True
        return all(w in item.tried_by for w in self._seen
                   if w != worker and self._alive(w, now))

    def _lease(self, item: _Item, worker: Hashable, now: float) -> Lease:
        deadline = now + self.lease_timeout_s
        self._leases[item.item_id] = (worker, deadline, item)
        if item.join_key is not None:
            self._affinity[item.join_key] = worker
            self._affinity.move_to_end(item.join_key)
            while len(self._affinity) > self._max_affinity:
                self._affinity.popitem(last=False)
        return Lease(item.item_id, item.payload, item.join_key, worker, deadline,
                     len(item.tried_by) + 1)

    def pull(self, worker: Hashable, now: float, max_items: int = 1) -> List[Lease]:
        """
        Lease up to ``max_items`` items to ``worker`` (whole join groups may exceed it).

        Items pinned to the worker by join affinity come first.
        """
        self._seen[worker] = now
        self.expire(now)
        taken: List[_Item] = []
        mine = self._pinned.get(worker)
        while mine and len(taken) < max_items:
            item_id, item = mine.popitem(last=False)
            del self._pinned_to[item_id]
            taken.append(item)
        for item_id in list(self._pending):
            if len(taken) >= max_items:
                break
            head = self._pending.get(item_id)
            if head is None or not self._eligible(head, worker, now):
                continue
            group = [head] if head.join_key is None else [
                i for i in self._pending.values() if i.join_key == head.join_key]
            for member in group:
                del self._pending[member.item_id]
            taken.extend(group)
        return [self._lease(item, worker, now) for item in taken]

    def heartbeat(self, worker: Hashable, now: float, holding: Iterable[Hashable] = (),
                  release: bool = False) -> List[Hashable]:
        """
        Mark ``worker`` alive; extend its leases of ``holding`` to ``now + lease_timeout_s``.

        Leases of the worker that it does not list are not extended: a worker that keeps
        pulling must not keep an item alive that it never received. With ``release`` (the
        worker's pull lists every item it holds, see ``PullWork.srv``) they are re-queued
        at once, preferably for another worker: the worker dropped them or never got them,
        and waiting out the lease would only delay them. Return the released ids.
        """
        self._seen[worker] = now
        listed = set(holding)
        for item_id in listed:
            lease = self._leases.get(item_id)
            if lease is not None and lease[0] == worker:
                self._leases[item_id] = (worker, now + self.lease_timeout_s, lease[2])
        if not release:
            return []
        back = [(item_id, item) for item_id, (owner, _, item) in self._leases.items()
                if owner == worker and item_id not in listed]
        for item_id, item in back:
            del self._leases[item_id]
            item.tried_by.add(worker)
            if item.join_key is not None and self._affinity.get(item.join_key) == worker:
                del self._affinity[item.join_key]
        self.stats['released'] += len(back)
        self._requeue([item for _, item in back])
        return [item_id for item_id, _ in back]

    def _requeue(self, items: List[_Item]) -> None:
        for item in sorted(items, key=lambda i: i.seq, reverse=True):
            self._pending[item.item_id] = item
            self._pending.move_to_end(item.item_id, last=False)

    def expire(self, now: float) -> List[Hashable]:
        """Re-queue items of expired leases and of dead workers; return their ids."""
        back: List[_Item] = []
        for item_id, (owner, deadline, item) in list(self._leases.items()):
            if now >= deadline:
                del self._leases[item_id]
                item.tried_by.add(owner)
                self.stats['resent'] += 1
                back.append(item)
                if self._affinity.get(item.join_key) == owner:
                    del self._affinity[item.join_key]
        for worker, queue in self._pinned.items():
            if queue and not self._alive(worker, now):
                for item_id, item in queue.items():
                    del self._pinned_to[item_id]
                    back.append(item)
                queue.clear()
        for key, owner in list(self._affinity.items()):
            if not self._alive(owner, now):
                del self._affinity[key]
        self._requeue(back)
        return [i.item_id for i in back]

    def complete(self, worker: Hashable, item_id: Hashable, result: Any, now: float) -> bool:
        """
        Record ``result``; return ``True`` if delivered, ``False`` if dropped as a duplicate.

        A late result from a worker whose lease expired is still delivered if no other
        worker has completed the item yet (its re-sent copy is then cancelled).
        """
        self._seen[worker] = now
        if item_id in self._done:
            self.stats['duplicate_results'] += 1
            return False
        if item_id in self._leases:
            del self._leases[item_id]
        elif item_id in self._pending:
            del self._pending[item_id]
        elif item_id in self._pinned_to:
            del self._pinned[self._pinned_to.pop(item_id)][item_id]
        else:
            self.stats['unknown_results'] += 1
            return False
        self._done[item_id] = None
        while len(self._done) > self._memory:
            self._done.popitem(last=False)
        self._results.append((item_id, result, worker))
        self.stats['delivered'] += 1
        return True

    def drain_results(self) -> List[Tuple[Hashable, Any, Hashable]]:
        """Return and clear delivered ``(item_id, result, worker)`` triples, in order."""
        out, self._results = self._results, []
        return out

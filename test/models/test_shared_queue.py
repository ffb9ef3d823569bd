"""ShardQueue: leases, re-sends, dedup, join affinity, bounds (pure, time passed in)."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeserve_ros.models.shared_queue import ShardQueue


def test_each_item_to_one_worker_and_results_once():
    """Each item to one worker and results once."""
    q = ShardQueue(lease_timeout_s=1.0)
    for i in range(4):
        assert q.put(i, f'p{i}', 0.0)
    a = q.pull('A', 0.1, max_items=2)
    b = q.pull('B', 0.1, max_items=5)
    assert [x.item_id for x in a] == [0, 1] and [x.item_id for x in b] == [2, 3]
    assert q.complete('A', 0, 'r0', 0.2) and not q.complete('B', 0, 'again', 0.3)
    assert q.stats['duplicate_results'] == 1
    assert not q.put(0, 'again', 0.3) and q.stats['duplicate_puts'] == 1


def test_stalled_worker_items_resent_to_another_and_late_result_dropped():
    """Stalled worker items resent to another and late result dropped."""
    q = ShardQueue(lease_timeout_s=1.0)
    q.put('x', 1, 0.0)
    assert q.pull('A', 0.0)[0].attempt == 1
    q.heartbeat('B', 0.9)
    assert q.pull('B', 0.5) == []          # still leased to A
    q.heartbeat('A', 0.8, ['x'])           # A holds x: extends its lease to 1.8
    assert q.pull('B', 1.5) == []
    again = q.pull('B', 1.9)               # A stalled: re-sent to B
    assert [(x.item_id, x.attempt) for x in again] == [('x', 2)]
    assert q.stats['resent'] == 1
    assert q.pull('A', 1.95) == []         # A may not take its own expired item back
    assert q.complete('B', 'x', 'from B', 2.0)
    assert not q.complete('A', 'x', 'late', 2.1)
    assert [r[:2] for r in q.drain_results()] == [('x', 'from B')]


def test_pulls_do_not_keep_alive_an_item_the_worker_never_received():
    """A lost pull answer: the worker pulls on, its unlisted lease expires and is re-sent."""
    q = ShardQueue(lease_timeout_s=1.0)
    q.put('lost', 1, 0.0)
    q.put('kept', 2, 0.0)
    leased = q.pull('A', 0.0, max_items=2)     # this answer reaches A only for 'kept'
    assert [x.item_id for x in leased] == ['lost', 'kept']
    for now in (0.5, 0.9):
        assert q.pull('A', now) == []             # A keeps pulling, holding 'kept'
        q.heartbeat('A', now, ['kept'])
    q.heartbeat('A', 1.3, ['kept'])
    assert q.expire(1.3) == ['lost'] and q.leased_count() == 1
    again = q.pull('B', 1.4)
    assert [(x.item_id, x.attempt) for x in again] == [('lost', 2)]
    assert q.complete('A', 'kept', 'r', 1.5) and q.complete('B', 'lost', 'r', 1.5)


def test_join_affinity_pins_later_members_to_the_same_worker():
    """Join affinity pins later members to the same worker."""
    q = ShardQueue(lease_timeout_s=1.0)
    q.put(('t1', 'acc'), None, 0.0, join_key='t1')
    q.put(('t2', 'acc'), None, 0.0, join_key='t2')
    q.put(('t1', 'imu'), None, 0.0, join_key='t1')
    got_a = q.pull('A', 0.01, max_items=1)
    assert {x.item_id for x in got_a} == {('t1', 'acc'), ('t1', 'imu')}
    q.put(('t1', 'shoes'), None, 0.02, join_key='t1')
    assert [x.item_id for x in q.pull('B', 0.03, max_items=5)] == [('t2', 'acc')]
    assert [x.item_id for x in q.pull('A', 0.04)] == [('t1', 'shoes')]


def test_bounded_drop_oldest_and_newest():
    """Bounded drop oldest and newest."""
    q = ShardQueue(capacity=2, drop='oldest')
    for i in range(4):
        q.put(i, i, 0.0)
    assert [x.item_id for x in q.pull('A', 0.0, 10)] == [2, 3]
    assert q.stats['dropped_full'] == 2
    q = ShardQueue(capacity=2, drop='newest')
    assert [q.put(i, i, 0.0) for i in range(3)] == [True, True, False]
    with pytest.raises(ValueError):
        ShardQueue(drop='random')


_OPS = st.lists(st.tuples(st.sampled_from(['put', 'put', 'pull', 'complete', 'kill',
                                           'zombie', 'tick']),
                          st.integers(0, 3), st.integers(0, 3)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(_OPS, st.integers(2, 40), st.booleans())
def test_exactly_once_with_random_worker_deaths(ops, capacity, keyed):
    """Exactly once with random worker deaths."""
    timeout = 1.0
    q, now, next_id = ShardQueue(capacity=capacity, lease_timeout_s=timeout), 0.0, 0
    alive = {0, 1, 2, 3}                   # worker 0 never dies
    held = {w: [] for w in alive}
    accepted = set()
    delivered = Counter()

    def record():
        for item_id, _, _ in q.drain_results():
            delivered[item_id] += 1

    for op, w, n in ops:
        if op == 'put':
            if q.put(next_id, None, now, join_key=(next_id // 3) if keyed else None):
                accepted.add(next_id)
            next_id += 1
        elif op == 'pull' and w in alive:
            held[w] += [x.item_id for x in q.pull(w, now, max_items=n + 1)]
        elif op == 'complete' and w in alive and held[w]:
            q.complete(w, held[w].pop(0), 'r', now)
        elif op == 'kill' and w != 0:
            alive.discard(w)
        elif op == 'zombie' and w not in alive and held[w]:
            q.complete(w, held[w].pop(), 'late', now)  # a dead worker's late result
        elif op == 'tick':
            now += 0.3 * (n + 1)
        record()
    for _ in range(200):                   # the surviving worker drains everything
        now += timeout + 0.01
        for lease in q.pull(0, now, max_items=1000):
            q.complete(0, lease.item_id, 'r', now)
        record()
        if q.queued_count() == 0 and q.leased_count() == 0:
            break
    assert all(c == 1 for c in delivered.values())
    assert set(delivered) <= accepted
    assert len(accepted - set(delivered)) == q.stats['dropped_full']  # drop='oldest'
    assert q.queued_count() == 0 and q.leased_count() == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), min_size=1, max_size=60))
def test_join_affinity_holds_while_workers_live(events):
    """Join affinity holds while workers live."""
    q, now = ShardQueue(capacity=10_000, lease_timeout_s=10.0), 0.0
    owner = {}
    for i, (key, worker) in enumerate(events):
        q.put(i, None, now, join_key=key)
        now += 0.01
        for lease in q.pull(worker, now, max_items=1):
            assert owner.setdefault(lease.join_key, lease.worker) == lease.worker
        for w in range(3):
            q.heartbeat(w, now, [i])


def test_a_pull_releases_what_its_worker_no_longer_lists():
    """A worker that dropped an item (or never got it) frees it at its next pull."""
    q = ShardQueue(lease_timeout_s=10.0)
    for i in range(3):
        q.put(i, i, 0.0)
    assert [x.item_id for x in q.pull('A', 0.0, max_items=3)] == [0, 1, 2]
    q.heartbeat('B', 0.05)
    assert q.heartbeat('A', 0.1, [0, 2], release=True) == [1]  # A dropped 1
    assert q.stats['released'] == 1 and q.leased_count() == 2
    assert q.pull('A', 0.1) == []  # A may not take back what it dropped while B lives
    again = q.pull('B', 0.2)
    assert [(x.item_id, x.attempt) for x in again] == [(1, 2)]
    assert q.heartbeat('A', 0.3, [0, 2]) == []  # a result's heartbeat releases nothing
    assert q.heartbeat('B', 0.3, [1], release=True) == []
    assert all(q.complete(w, i, 'r', 0.4) for w, i in (('A', 0), ('A', 2), ('B', 1)))
    assert q.heartbeat('A', 0.5, [], release=True) == [] and q.leased_count() == 0
    assert q.stats['resent'] == 0 and q.stats['delivered'] == 3


def test_a_released_join_group_loses_its_affinity():
    """Affinity to a worker that dropped a tuple's member does not pin later members."""
    q = ShardQueue(lease_timeout_s=10.0)
    q.put(('t1', 'a'), None, 0.0, join_key='t1')
    assert len(q.pull('A', 0.0)) == 1
    q.heartbeat('B', 0.0)
    assert q.heartbeat('A', 0.1, [], release=True) == [('t1', 'a')]
    q.put(('t1', 'b'), None, 0.2, join_key='t1')
    assert {x.item_id for x in q.pull('B', 0.3, max_items=4)} == {('t1', 'a'), ('t1', 'b')}

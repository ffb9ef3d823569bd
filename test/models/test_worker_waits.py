"""A worker's waits stamp answers when they arrive, not when the worker looks (rclpy-free)."""

import time

import pytest

from edgeserve_ros.models.link_faults import LinkFaults
from edgeserve_ros.models.worker_waits import Answer, Fetches, Lookahead, split_batches


class Done:
    """The part of ``rclpy.task.Future`` the waits use: done callbacks, called on completion."""

    def __init__(self):
        self.callbacks = []

    def add_done_callback(self, callback):
        self.callbacks.append(callback)

    def complete(self):
        for callback in self.callbacks:
            callback(self)


def test_a_prefetched_pull_answer_keeps_its_arrival_time():
    future = Done()
    pull = Answer(future)
    assert pull.arrived is None and not pull.done.is_set()
    before = time.monotonic()
    future.complete()  # arrives while the model runs
    after = time.monotonic()
    assert pull.done.is_set() and before <= pull.arrived <= after
    future.complete()  # a second call does not move it
    assert pull.arrived <= after
    # looked at one delay later, nothing is left to wait (it was a whole delay when stamped
    # at the wait's start, as before this module)
    faults = LinkFaults(delay=0.5)
    assert faults.remaining(pull.arrived, pull.arrived + 0.5) == 0.0
    assert faults.remaining(pull.arrived, pull.arrived + 0.2) == pytest.approx(0.3)


def test_fetches_stamp_each_payload_once():
    fetches = Fetches(limit=10.0)
    first, second = Done(), Done()
    fetches.add(('/cam', 1), first)
    fetches.add(('/cam', 2), second)
    first.complete()
    one, two = fetches.answers[('/cam', 1)], fetches.answers[('/cam', 2)]
    assert one.done.is_set() and not two.done.is_set()
    stamp = one.arrived
    first.complete()
    assert one.arrived == stamp and two.arrived is None
    assert fetches.last_arrival() == stamp


class Item:
    def __init__(self, item_id, join_key=''):
        self.id, self.join_key = item_id, join_key


def test_split_batches_keeps_order_and_join_groups():
    items = [Item(i) for i in range(10)]
    assert [[i.id for i in b] for b in split_batches(items, 4)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert split_batches([], 4) == []
    grouped = [Item(0), Item(1), Item(2, 'k'), Item(3, 'k'), Item(4, 'k'), Item(5)]
    # the group of 'k' straddles the cut after 2 items: it stays whole
    assert [[i.id for i in b] for b in split_batches(grouped, 2)] == [
        [0, 1], [2, 3, 4], [5]]


def test_lookahead_covers_the_round_trips_with_model_time():
    assert Lookahead(0).depth() == 0  # prefetch off
    look = Lookahead(8)
    assert look.depth() == 1  # nothing measured yet
    for _ in range(20):  # a fast link: one batch ahead
        look.pulled(0.01)
        look.fetched(0.01)
        look.ran(0.4)
    assert look.depth() == 1
    for _ in range(40):  # 0.5 s each way: a pull and then its fetches take 1 s, 2.5 batches
        look.pulled(0.51)
        look.fetched(0.51)
    assert look.depth() == 3
    assert Lookahead(2).depth() == 1 and _slow(Lookahead(2)).depth() == 2  # capped


def test_each_pull_brings_what_runs_while_it_travels():
    look = Lookahead(8)
    assert look.per_pull() == 1  # nothing measured yet
    look.pulled(0.01)
    look.ran(0.4)
    assert look.per_pull() == 1  # a fast link
    for _ in range(40):  # 0.5 s to the queue, images inline: two batches run meanwhile
        look.pulled(0.51)
        look.fetched(0.0)
    assert look.per_pull() == 2 and look.depth() == 2
    assert Lookahead(0).per_pull() == 1 and _slow(Lookahead(3)).per_pull() == 3  # capped


def _slow(look):
    look.pulled(5.0)
    look.fetched(5.0)
    look.ran(0.1)
    return look

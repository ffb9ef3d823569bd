"""A worker's waits stamp answers when they arrive, not when the worker looks (rclpy-free)."""

import time

import pytest

from edgeserve_ros.models.link_faults import LinkFaults
from edgeserve_ros.models.worker_waits import Fetches, Pull


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
    pull = Pull(future)
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
    assert fetches.done[('/cam', 1)].is_set() and not fetches.done[('/cam', 2)].is_set()
    stamp = fetches.arrived[('/cam', 1)]
    first.complete()
    assert fetches.arrived[('/cam', 1)] == stamp and ('/cam', 2) not in fetches.arrived

"""
Seeded faults of a queue worker and its link to the queue host (rclpy-free).

The kernel here has no ``netem``, so the seed-001 experiments (a worker that fails, delay
and loss on worker links) are injected in the worker itself, on what it receives from the
queue host:

* ``drop``: the worker fails on an item it pulled (not fetched, not answered);
* ``loss``: an item's image message is lost on the link (the same outcome), and a whole
  pull answer is lost with the same probability (its items never reach the worker);
* ``delay``: every pull answer and fetch answer reaches the worker ``delay`` seconds after
  it arrived (one-way delay on the link into the worker).

Dropped and lost items are not listed in the worker's next pull, so the queue re-sends them
at once (:meth:`edgeserve_ros.models.shared_queue.ShardQueue.heartbeat`).
"""

from __future__ import annotations

import random
import threading
import time
from typing import List, Optional, Sequence, TypeVar

T = TypeVar('T')


class LinkFaults:
    """
    Fault draws and waits of one worker; all zero means no fault and no cost.

    :param drop: probability that the worker fails on an item
    :param delay: seconds added to every answer the worker receives
    :param loss: probability that an item's message, or a whole pull answer, is lost
    :param seed: seed of the draws
    :param stop: set when the worker stops: waits end early
    """

    def __init__(self, drop: float = 0.0, delay: float = 0.0, loss: float = 0.0, seed: int = 0,
                 stop: Optional[threading.Event] = None) -> None:
        for name, value in (('drop', drop), ('loss', loss)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'fault_{name}={value}: must be in [0, 1]')
        if delay < 0:
            raise ValueError(f'fault_delay={delay}: must be >= 0')
        self.drop, self.delay, self.loss = drop, delay, loss
        self._rng, self._stop = random.Random(seed), stop or threading.Event()
        self.dropped = 0  # items dropped (failure) or lost
        self.lost_answers = 0  # whole pull answers lost

    def answer_lost(self) -> bool:
        """Draw whether a pull answer is lost (counted)."""
        lost = bool(self.loss) and self._rng.random() < self.loss
        self.lost_answers += lost
        return lost

    def keep(self, items: Sequence[T]) -> List[T]:
        """Return the items that neither fail nor are lost (the others are counted)."""
        if not (self.drop or self.loss):
            return list(items)
        kept = [i for i in items if self._rng.random() >= self.drop
                and self._rng.random() >= self.loss]
        self.dropped += len(items) - len(kept)
        return kept

    def remaining(self, arrived_at: float, now: float) -> float:
        """Return the seconds left at ``now`` for an answer that arrived at ``arrived_at``."""
        return max(0.0, arrived_at + self.delay - now) if self.delay else 0.0

    def arrive(self, arrived_at: float) -> None:
        """Wait until ``arrived_at + delay`` (monotonic seconds), or until the worker stops."""
        left = self.remaining(arrived_at, time.monotonic())
        if left > 0:
            self._stop.wait(left)

"""
The project's own fault layer: seeded delay, jitter and loss (the kernel has no netem).

Used by sources to delay header publication (a late stream) and by fetch clients to lose or
delay answers, so tests and benchmarks can reproduce network trouble deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
import random


@dataclass(frozen=True)
class FaultSpec:
    """
    Faults applied to one path; all zero means no fault.

    :param delay: constant extra delay in seconds
    :param jitter: extra uniform delay in ``[0, jitter)`` seconds
    :param loss: probability in ``[0, 1]`` that a message is lost
    :param seed: seed of the generator, for reproducible runs
    """

    delay: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.delay < 0 or self.jitter < 0:
            raise ValueError(f'fault delay and jitter must be >= 0, got {self.delay}, '
                             f'{self.jitter}')
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f'fault loss must be in [0, 1], got {self.loss}')

    @property
    def active(self) -> bool:
        """Return True when any fault is configured."""
        return bool(self.delay or self.jitter or self.loss)


class FaultInjector:
    """Draws, message by message, whether it is lost and how long it is held back."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._rng = random.Random(spec.seed)
        self.lost = 0
        self.delayed = 0

    def lose(self) -> bool:
        """Return True (and count it) when this message is to be lost."""
        if self.spec.loss and self._rng.random() < self.spec.loss:
            self.lost += 1
            return True
        return False

    def delay(self) -> float:
        """Return the extra delay of this message in seconds."""
        extra = self.spec.delay + (self._rng.random() * self.spec.jitter if self.spec.jitter
                                   else 0.0)
        if extra > 0:
            self.delayed += 1
        return extra

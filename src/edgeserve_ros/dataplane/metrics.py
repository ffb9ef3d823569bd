"""
Latency bookkeeping of the paper's section 6.2, free of ROS.

Times are seconds on one clock (the consumer's ROS clock; across hosts, keep clocks
synchronised or correct with :mod:`edgeserve_ros.sync.clock`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Dict, List, Optional, Sequence


@dataclass
class ExampleTimes:
    """Timestamps of one example along its path (NaN when not observed)."""

    collected: float = math.nan       # source collection stamp
    send_begin: float = math.nan      # producer begins sending (header publish)
    send_end: float = math.nan        # producer finished sending
    received: float = math.nan        # consumer holds the payload
    process_begin: float = math.nan
    process_end: float = math.nan

    def latencies(self) -> Dict[str, float]:
        """Compute the paper's per-example latencies; NaN where an end is missing."""
        done = self.process_end if not math.isnan(self.process_end) else self.received
        return {
            'producer_sending': self.send_end - self.send_begin,
            'consumer_receiving': self.received - self.send_end,
            'total_communication': self.received - self.send_begin,
            'processing': self.process_end - self.process_begin,
            'end_to_end': done - self.collected,
        }


@dataclass
class TaskTracker:
    """Task-level metrics: total working duration and backlog (last example's end-to-end)."""

    first_send: Optional[float] = None
    last_done: Optional[float] = None
    backlog: float = math.nan
    examples: int = 0
    samples: Dict[str, List[float]] = field(default_factory=dict)

    def record(self, times: ExampleTimes) -> Dict[str, float]:
        """Add one finished example; return its latencies plus the task metrics so far."""
        values = times.latencies()
        if self.first_send is None or times.send_begin < self.first_send:
            self.first_send = times.send_begin
        done = times.process_end if not math.isnan(times.process_end) else times.received
        self.last_done = done if self.last_done is None else max(self.last_done, done)
        self.backlog = values['end_to_end']
        self.examples += 1
        for name, value in values.items():
            if not math.isnan(value):
                self.samples.setdefault(name, []).append(value)
        values['working_duration'] = self.working_duration
        values['backlog'] = self.backlog
        return values

    @property
    def working_duration(self) -> float:
        """Return seconds from the first send to the last finished example."""
        if self.first_send is None or self.last_done is None:
            return math.nan
        return self.last_done - self.first_send

    def summary(self) -> Dict[str, Dict[str, float]]:
        """Return p50/p99/mean of every latency recorded."""
        return {name: describe(values) for name, values in self.samples.items()}


def percentile(values: Sequence[float], q: float) -> float:
    """Compute the q-th percentile, q in 0..100, by linear interpolation; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def describe(values: Sequence[float]) -> Dict[str, float]:
    """Return count, mean, p50, p99 and max of ``values``."""
    if not values:
        return {'n': 0, 'mean': math.nan, 'p50': math.nan, 'p99': math.nan, 'max': math.nan}
    return {'n': len(values), 'mean': sum(values) / len(values), 'p50': percentile(values, 50),
            'p99': percentile(values, 99), 'max': max(values)}

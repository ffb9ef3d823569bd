"""
Prometheus text exposition (format 0.0.4) of the gateway's counters, hand-written.

Counters and histograms with labels; gauges are read at scrape time from callables.
Thread-safe (the ROS thread and the event loop both record).
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Callable, Dict, List, Sequence, Tuple

Labels = Tuple[Tuple[str, str], ...]
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


def _labels(labels: Labels, extra: str = '') -> str:
    parts = [f'{k}="{v}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return '{' + ','.join(parts) + '}' if parts else ''


def _escape(value: str) -> str:
    return value.replace('\\', r'\\').replace('"', r'\"').replace('\n', r'\n')


class Registry:
    """Named metrics; :meth:`render` returns the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help: Dict[str, Tuple[str, str]] = {}  # name -> (type, help)
        self._counters: Dict[str, Dict[Labels, float]] = {}
        self._hists: Dict[str, Tuple[Sequence[float], Dict[Labels, List[float]]]] = {}
        self._gauges: Dict[str, Callable[[], float]] = {}

    def counter(self, name: str, text: str) -> None:
        """Declare a counter."""
        self._help[name] = ('counter', text)
        self._counters[name] = {}

    def histogram(self, name: str, text: str, buckets: Sequence[float]) -> None:
        """Declare a histogram with upper bounds ``buckets``."""
        self._help[name] = ('histogram', text)
        self._hists[name] = (tuple(buckets), {})

    def gauge(self, name: str, text: str, read: Callable[[], float]) -> None:
        """Declare a gauge whose value ``read()`` returns at scrape time."""
        self._help[name] = ('gauge', text)
        self._gauges[name] = read

    @staticmethod
    def _key(labels: Dict[str, str]) -> Labels:
        return tuple(sorted((k, _escape(str(v))) for k, v in labels.items()))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to counter ``name`` with ``labels``."""
        key = self._key(labels)
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record ``value`` in histogram ``name``."""
        bounds, series = self._hists[name]
        key = self._key(labels)
        with self._lock:
            row = series.setdefault(key, [0.0] * (len(bounds) + 2))  # buckets, +Inf, sum
            row[bisect.bisect_left(bounds, value)] += 1
            row[-1] += value

    def value(self, name: str, **labels: str) -> float:
        """Return the value of a counter (0 when never incremented)."""
        with self._lock:
            return self._counters[name].get(self._key(labels), 0.0)

    def render(self) -> str:
        """Return all metrics as Prometheus text."""
        out: List[str] = []
        with self._lock:
            for name, (kind, text) in self._help.items():
                out += [f'# HELP {name} {text}', f'# TYPE {name} {kind}']
                if kind == 'counter':
                    out += [f'{name}{_labels(k)} {v:g}' for k, v in self._counters[name].items()]
                elif kind == 'gauge':
                    out.append(f'{name} {float(self._gauges[name]()):g}')
                else:
                    out += self._render_hist(name)
        return '\n'.join(out) + '\n'

    def _render_hist(self, name: str) -> List[str]:
        bounds, series = self._hists[name]
        lines = []
        for key, row in series.items():
            total = 0.0
            for bound, count in zip(list(bounds) + [math.inf], row[:-1]):
                total += count
                le = '+Inf' if math.isinf(bound) else f'{bound:g}'
                lines.append(f'{name}_bucket{_labels(key, f"le={chr(34)}{le}{chr(34)}")} '
                             f'{total:g}')
            lines += [f'{name}_sum{_labels(key)} {row[-1]:g}',
                      f'{name}_count{_labels(key)} {total:g}']
        return lines

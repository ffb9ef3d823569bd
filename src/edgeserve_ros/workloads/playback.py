"""
Playing a workload part back as a real-time stream; rclpy-free.

A *part* is what one data-source node sees (paper §6.4, §6.5):

* ``har``: the test run (the last of :func:`~.har.make_har_runs`, as held out by
  :func:`~.har_train.train_har_models`), one row per 33 ms, either one column group
  (``part`` 0-3, :data:`~.har.GROUPS`) or all 134 columns (``part`` -1); float32 rows;
* ``nids``: the flows of one source host (``part`` 0-3, :data:`~.nids.SOURCE_IPS`),
  :data:`NIDS_RATE_HZ` flows per second; float32 feature rows;
* ``qr``: 1080p gray frames of one camera (``part`` 0-1) of :func:`~.qr.iter_frames`,
  30 frames per second; camera ``k``'s stamps lag by ``k`` times the camera skew.

Item ``i`` is due at (and stamped) ``start + (i * natural_period + lag) * time_scale`` where
``time_scale = period / natural_period`` (``period`` = natural period / speed, or
``1 / rate_hz``). Sources given the same ``start`` play in lockstep, so the rows of one
example carry the same stamp on every part. :class:`Schedule` says which items are due
(pure: time is passed in), skipping items more than ``max_lag`` late as a real-time
sensor would.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import math
from typing import Any, Iterator, List, NamedTuple, Optional

import numpy as np

WORKLOADS = ('har', 'nids', 'qr')
NIDS_RATE_HZ = 100.0
NIDS_FLOWS = 20000
QR_FRAMES = 150
QR_FPS = 30.0
QR_CAMERAS = ('cam_a', 'cam_b')
QR_SKEW_S = 0.011


class PlaybackItem(NamedTuple):
    """One item of a part: its number (index in the run), payload value and label."""

    number: int
    value: Any
    label: Any


def natural_rate(workload: str) -> float:
    """Return the workload's natural item rate in Hz."""
    if workload == 'har':
        from .har import PERIOD_S
        return 1.0 / PERIOD_S
    if workload == 'nids':
        return NIDS_RATE_HZ
    if workload == 'qr':
        return QR_FPS
    raise ValueError(f'workload: unknown {workload!r}; expected one of {WORKLOADS}')


def part_name(workload: str, part: int) -> str:
    """
    Return the part's name (HAR group, NIDS source host or camera).

    :raises ValueError: naming ``part`` when it does not exist for the workload
    """
    natural_rate(workload)  # validates the workload
    if workload == 'har':
        from .har import GROUPS
        names = {-1: 'all', **{i: g[0] for i, g in enumerate(GROUPS)}}
    elif workload == 'nids':
        from .nids import SOURCE_IPS
        names = dict(enumerate(SOURCE_IPS))
    else:
        names = dict(enumerate(QR_CAMERAS))
    if part not in names:
        raise ValueError(f'part: {part} does not exist for workload {workload!r} '
                         f'(expected one of {sorted(names)})')
    return names[part]


def default_stream(workload: str, part: int) -> str:
    """Return the default topic of a part, e.g. ``har/accelerometers`` or ``nids/source0``."""
    name = part_name(workload, part)
    return f'{workload}/source{part}' if workload == 'nids' else f'{workload}/{name}'


@dataclass
class Part:
    """
    The items of one part, random access by index.

    :ivar size: number of items in the run.
    :ivar period: natural seconds between items.
    :ivar lag: data-time offset of this part's stamps, s (a camera's skew).
    """

    workload: str
    part: int
    seed: int = 0

    def __post_init__(self) -> None:
        """Load (generate) the part's data."""
        part_name(self.workload, self.part)
        self.period = 1.0 / natural_rate(self.workload)
        self.lag = self.part * QR_SKEW_S if self.workload == 'qr' else 0.0
        self._rows: Optional[np.ndarray] = None
        self._labels: Optional[np.ndarray] = None
        self._frames: Optional[Iterator[Any]] = None
        self._next_frame = 0
        if self.workload == 'har':
            from .har import group_slices
            run = _har_test_run(self.seed)
            cols = (slice(None) if self.part < 0
                    else list(group_slices().values())[self.part])
            self._rows = np.ascontiguousarray(run.x[:, cols], dtype=np.float32)
            self._labels = run.y
        elif self.workload == 'nids':
            from .nids import generate_flows, SOURCE_IPS, split_by_source
            flows = split_by_source(generate_flows(NIDS_FLOWS, self.seed))[
                SOURCE_IPS[self.part]]
            self._rows = np.ascontiguousarray(flows.x, dtype=np.float32)
            self._labels = flows.labels
        self.size = len(self._rows) if self._rows is not None else QR_FRAMES
        self._first = self._frame(0) if self.workload == 'qr' else None  # setup cost now

    def item(self, index: int) -> PlaybackItem:
        """Return item ``index`` (QR frames must be asked for in increasing order)."""
        if not 0 <= index < self.size:
            raise IndexError(f'item {index} is outside the run (0..{self.size - 1})')
        if self._rows is not None and self._labels is not None:
            return PlaybackItem(index, self._rows[index], _plain(self._labels[index]))
        if index == 0 and self._first is not None:
            return self._first
        return self._frame(index)

    def _frame(self, index: int) -> PlaybackItem:
        from .qr import iter_frames
        if self._frames is None:
            self._frames = iter_frames(QR_FRAMES, QR_FPS, seed=self.seed,
                                       cameras=[QR_CAMERAS[self.part]])
        if index < self._next_frame and index > 0:
            raise IndexError(f'frame {index} was already played')
        while True:  # skipped frames are rendered and dropped (about 3 ms each)
            frame = next(self._frames)[QR_CAMERAS[self.part]]
            self._next_frame += 1
            if self._next_frame > index:
                return PlaybackItem(index, frame.image, frame.text)


@functools.lru_cache(maxsize=2)
def _har_test_run(seed: int) -> Any:
    """Return the HAR test run of ``seed`` (shared by the parts played in one process)."""
    from .har import generate_run
    return generate_run(seed, 5, 120.0)  # = make_har_runs(seed)[-1]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class Schedule:
    """
    Which items are due when: item ``i`` at ``start + (i * natural + lag) * scale``.

    :param start: time item 0 is due (the caller's clock, s).
    :param period: seconds between items when played back.
    :param natural_period: seconds between items in the data.
    :param size: items in the run.
    :param count: items to play (0: the whole run from ``first``).
    :param max_lag: items due longer ago than this are skipped, not played.
    :param lag: data-time offset of every stamp (see :attr:`Part.lag`).
    """

    def __init__(self, start: float, period: float, natural_period: float, size: int,
                 count: int = 0, max_lag: float = 0.5, lag: float = 0.0) -> None:
        if period <= 0 or natural_period <= 0:
            raise ValueError('period: must be > 0')
        self.scale = period / natural_period
        self.start, self.period, self.max_lag = start + lag * self.scale, period, max_lag
        self.next = 0
        self.end = size if count <= 0 else min(size, count)
        self.skipped = 0

    @property
    def done(self) -> bool:
        """Return True when every item has been played or skipped."""
        return self.next >= self.end

    def stamp(self, index: int) -> float:
        """Return the collection time (= due time) of item ``index``."""
        return self.start + index * self.period

    def due(self, now: float) -> List[int]:
        """Return the indices due by ``now`` not returned before (late ones skipped)."""
        if now < self.start:
            return []
        last = min(self.end - 1, int(math.floor((now - self.start) / self.period + 1e-9)))
        oldest = int(math.ceil((now - self.max_lag - self.start) / self.period - 1e-9))
        if oldest > self.next:
            skip = min(oldest, last + 1) - self.next
            self.skipped += skip
            self.next += skip
        out = list(range(self.next, last + 1))
        self.next = max(self.next, last + 1)
        return out

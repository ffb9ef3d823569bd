"""
Validated, frozen synchronizer parameters.

Every check raises :class:`ValueError` whose message starts with the offending
key, e.g. ``"period: must be > 0, got 0.0"``, so a bad ROS parameter or CLI flag
can be reported as-is.
"""

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple

POLICIES = ('impute', 'partial', 'skip')
CLOCK_MODES = ('none', 'envelope')


def _number(key: str, value: Any, low: float, strict: bool, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'{key}: must be a number, got {value!r}')
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f'{key}: must be finite, got {value!r}')
    if value < low or (strict and value == low):
        raise ValueError(f"{key}: must be {'>' if strict else '>='} {low}, got {value!r}")
    return value


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{key}: must be an integer >= 1, got {value!r}')
    return value


@dataclass(frozen=True)
class StreamSpec:
    """
    One input stream.

    :ivar name: stream (topic) name, unique within a config.
    :ivar required: required streams gate early emission and the ``skip`` policy;
        optional streams are attached when available and never hold a tuple back.
    :ivar queue_size: per-stream bound on buffered, not yet emitted headers
        (``None``: the config's ``queue_size``); overflow drops the oldest (counted).
    """

    name: str
    required: bool = True
    queue_size: Optional[int] = None

    def __post_init__(self) -> None:
        """Validate the fields."""
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f'streams: name must be a non-empty string, got {self.name!r}')
        if not isinstance(self.required, bool):
            raise ValueError(f'streams.{self.name}.required: must be a bool')
        if self.queue_size is not None:
            _count(f'streams.{self.name}.queue_size', self.queue_size)


@dataclass(frozen=True)
class SyncConfig:
    """
    Synchronizer parameters (seconds).

    :ivar period: target output period, > 0.
    :ivar max_skew: bound on the stamp span of a tuple's fresh members, and the
        longest a tuple waits for late arrivals after its tick, >= 0.
    :ivar max_age: no member is ever older than this at its tick (may be ``inf``).
    :ivar policy: ``'impute'``, ``'partial'`` or ``'skip'`` (see :mod:`.core`).
    :ivar streams: the input streams, in output order.
    :ivar queue_size: default per-stream queue bound.
    :ivar late_factor: a stream is overdue (its last message counts as imputed,
        not reused) once its newest message is older than ``late_factor`` times
        its mean stamp interval (``period`` until it is known) plus ``max_skew``.
    :ivar clock: ``'none'`` or ``'envelope'`` (per-source offset estimation, see
        :mod:`.clock`).
    :ivar clock_window: sliding window of the offset estimator, seconds.
    :ivar reference: stream whose clock the corrected stamps are expressed in
        (``None``: the first stream).
    """

    period: float
    max_skew: float
    max_age: float
    policy: str = 'impute'
    streams: Tuple[StreamSpec, ...] = field(default_factory=tuple)
    queue_size: int = 64
    late_factor: float = 2.0
    clock: str = 'none'
    clock_window: float = 10.0
    reference: Optional[str] = None

    def __post_init__(self) -> None:
        """Validate every field; raise :class:`ValueError` naming the bad key."""
        set_ = object.__setattr__
        set_(self, 'period', _number('period', self.period, 0.0, True))
        set_(self, 'max_skew', _number('max_skew', self.max_skew, 0.0, False))
        set_(self, 'max_age', _number('max_age', self.max_age, 0.0, False, allow_inf=True))
        if self.policy not in POLICIES:
            raise ValueError(f'policy: must be one of {POLICIES}, got {self.policy!r}')
        _count('queue_size', self.queue_size)
        set_(self, 'late_factor', _number('late_factor', self.late_factor, 0.0, True))
        if self.clock not in CLOCK_MODES:
            raise ValueError(f'clock: must be one of {CLOCK_MODES}, got {self.clock!r}')
        set_(self, 'clock_window', _number('clock_window', self.clock_window, 0.0, True))
        streams = tuple(StreamSpec(s) if isinstance(s, str) else s for s in self.streams)
        if not streams or not all(isinstance(s, StreamSpec) for s in streams):
            raise ValueError('streams: must be a non-empty sequence of names or StreamSpec')
        names = [s.name for s in streams]
        if len(set(names)) != len(names):
            raise ValueError(f'streams: duplicate stream names in {names}')
        if not any(s.required for s in streams):
            raise ValueError('streams: at least one stream must be required')
        if self.reference is not None and self.reference not in names:
            raise ValueError(f'reference: {self.reference!r} is not one of the streams')
        set_(self, 'streams', streams)

    @property
    def names(self) -> Tuple[str, ...]:
        """Stream names in config order."""
        return tuple(s.name for s in self.streams)

    def queue_bound(self, spec: StreamSpec) -> int:
        """Return the effective queue bound of ``spec``."""
        return self.queue_size if spec.queue_size is None else spec.queue_size

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> 'SyncConfig':
        """
        Build from a plain mapping (e.g. ROS parameters or YAML).

        ``streams`` may hold names or mappings ``{name, required, queue_size}``.
        Unknown keys raise :class:`ValueError` naming the key.
        """
        known = set(cls.__dataclass_fields__)
        for key in params:
            if key not in known:
                raise ValueError(f'{key}: unknown key (expected one of {sorted(known)})')
        for key in ('period', 'max_skew', 'max_age', 'streams'):
            if key not in params:
                raise ValueError(f'{key}: missing required key')
        kwargs = dict(params)
        streams = []
        for item in kwargs['streams']:
            if isinstance(item, Mapping):
                bad = set(item) - {'name', 'required', 'queue_size'}
                if bad:
                    raise ValueError(f'streams: unknown key(s) {sorted(bad)}')
                streams.append(StreamSpec(**item))
            else:
                streams.append(item)
        kwargs['streams'] = tuple(streams)
        return cls(**kwargs)

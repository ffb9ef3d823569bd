"""Counters kept by the synchronizer."""

from dataclasses import asdict, dataclass, field
from typing import Dict


@dataclass
class StreamStats:
    """
    Per-stream counters.

    :ivar received: headers offered to the synchronizer.
    :ivar dropped: evicted by the queue bound before use (overflow).
    :ivar stale: rejected on arrival: stamp not newer than the stream's newest
        (out of order or duplicate).
    :ivar expired: buffered but older than ``max_age`` before it could be used.
    :ivar downsampled: superseded by a newer header of the same stream that was emitted.
    :ivar fresh: emitted as a fresh member.
    :ivar reused: emitted again (upsampling of a slow stream).
    :ivar imputed: emitted as last-known-good for a late or missing stream.
    :ivar missing: emitted tuples in which this stream was ``None``.
    :ivar backlog: delivered too late to teach the arrival estimates (re-sent after an
        outage); still buffered.
    """

    received: int = 0
    dropped: int = 0
    stale: int = 0
    expired: int = 0
    downsampled: int = 0
    fresh: int = 0
    reused: int = 0
    imputed: int = 0
    missing: int = 0
    backlog: int = 0


@dataclass
class SyncStats:
    """
    Synchronizer counters.

    :ivar tuples: tuples emitted.
    :ivar ticks_skipped: ticks dropped by the ``skip`` policy.
    :ivar ticks_empty: ticks with no member at all (nothing emitted).
    :ivar unknown: headers of streams not in the config (ignored).
    :ivar clamped: headers whose arrival was earlier than the synchronizer's
        clock and was raised to it.
    :ivar streams: per-stream :class:`StreamStats`.
    """

    tuples: int = 0
    ticks_skipped: int = 0
    ticks_empty: int = 0
    unknown: int = 0
    clamped: int = 0
    streams: Dict[str, StreamStats] = field(default_factory=dict)

    def total(self, name: str) -> int:
        """Return the per-stream counter ``name`` summed over all streams."""
        return sum(getattr(s, name) for s in self.streams.values())

    def as_dict(self) -> dict:
        """Return a plain (JSON-able) dict copy."""
        return asdict(self)

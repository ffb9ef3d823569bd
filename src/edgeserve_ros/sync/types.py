"""
Plain value types shared by the synchronizer, the replay CLI and the baselines.

All times are float seconds.  ``stamp`` is the collection time written by the
source (its own clock), ``arrival`` the receive time on the synchronizing host.
"""

from typing import Dict, NamedTuple, Optional

FRESH = 'fresh'
REUSED = 'reused'
IMPUTED = 'imputed'
STATES = (FRESH, REUSED, IMPUTED)


class HeaderEvent(NamedTuple):
    """One received header: which stream, its sequence number, stamp and arrival."""

    stream: str
    seq: int
    stamp: float
    arrival: float


class Member(NamedTuple):
    """
    One stream's contribution to a :class:`SyncTuple`.

    :ivar seq: sequence number of the message.
    :ivar stamp: the stamp as sent by the source (uncorrected).
    :ivar state: ``'fresh'``, ``'reused'`` or ``'imputed'``.
    :ivar age: tick time minus the (clock-corrected) stamp, seconds; negative for a
        header stamped after the tick (it arrived before the tuple was emitted).
    :ivar arrival: when the message arrived.
    """

    seq: int
    stamp: float
    state: str
    age: float
    arrival: float


class SyncTuple(NamedTuple):
    """
    One synchronized output.

    :ivar tick: the tick (reference time) the tuple stands for.
    :ivar emit_time: when it was emitted, ``tick <= emit_time <= tick + max_skew``.
    :ivar members: stream name -> :class:`Member` or ``None`` (missing), in config order.
    """

    tick: float
    emit_time: float
    members: Dict[str, Optional[Member]]

    def to_json_dict(self) -> dict:
        """Return the replay CLI's JSON object for this tuple."""
        return {
            't': self.emit_time,
            'tick': self.tick,
            'members': {
                name: None if m is None else
                {'seq': m.seq, 'stamp': m.stamp, 'state': m.state, 'age': m.age}
                for name, m in self.members.items()
            },
        }

"""
A model node's messages: a synchronized tuple into model inputs, a prediction's latency out.

Used by ``model_node``; rclpy-free (only the generated messages).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, NamedTuple

from edgeserve_ros.dataplane import codec
from edgeserve_ros.models.prediction import InputBinding, Provenance
from edgeserve_ros.models.types import Inputs
from edgeserve_ros.msg import LatencyMetrics, SyncedTuple, SyncMember
from edgeserve_ros.ros.timeconv import to_sec

STATES = {SyncMember.STATE_FRESH: 'fresh', SyncMember.STATE_REUSED: 'reused',
          SyncMember.STATE_IMPUTED: 'imputed'}


class ReadyInput(NamedTuple):
    """One tuple ready for the model."""

    inputs: Inputs
    provenance: Dict[str, Any]  # {"tick": float, "inputs": Provenance}
    oldest: float
    #: members the model uses whose payload could not be fetched (left to its fill policy)
    unfetched: int


def ready_input(msg: SyncedTuple, binding: InputBinding, stream_kind: bool,
                warn: Callable[[str], None]) -> ReadyInput:
    """
    Decode the members of ``msg`` that ``binding`` maps to model inputs.

    :param stream_kind: the tuple wraps one PayloadHeader of a plain stream
    :param warn: called with a message naming ``stream#seq`` for an undecodable payload
    """
    inputs: Inputs = {}
    provenance: Provenance = {}
    oldest, unfetched = math.inf, 0
    for m in msg.members:
        name = binding(m.stream, stream_kind)
        if name is None:
            continue
        value = None
        if m.payload_fetched:
            h = m.payload_header
            try:
                value = codec.decode(bytes(m.payload), h.content_type, encoding=h.encoding,
                                     height=h.height, width=h.width, step=h.step,
                                     is_bigendian=h.is_bigendian)
            except codec.PayloadError as exc:
                warn(f'{m.stream}#{m.seq}: {exc}')
        else:
            unfetched += 1
        inputs[name] = value
        stamp = to_sec(m.stamp)
        provenance[m.stream] = {'seq': m.seq, 'stamp': stamp,
                                'state': STATES.get(m.state, 'fresh')}
        oldest = min(oldest, stamp)
    return ReadyInput(inputs, {'tick': to_sec(msg.header.stamp), 'inputs': provenance}, oldest,
                      unfetched)


def model_latency(stream: str, seq: int, processing: float, end_to_end: float,
                  working: float) -> LatencyMetrics:
    """Return the ``LatencyMetrics`` (role ``model``) of one prediction; -1: not known."""
    return LatencyMetrics(stream=stream, seq=seq, role='model', producer_sending=-1.0,
                          consumer_receiving=-1.0, total_communication=-1.0,
                          processing=processing, end_to_end=end_to_end,
                          working_duration=working, backlog=end_to_end)

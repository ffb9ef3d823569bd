"""Answering ``FetchPayload`` requests from payload rings (no rclpy needed)."""

from __future__ import annotations

from typing import Any, List, Mapping

from edgeserve_ros.dataplane.codec import to_uint8_array
from edgeserve_ros.dataplane.status import FetchStatus
from edgeserve_ros.msg import Payload

#: Most sequence numbers one request may ask for.
MAX_BATCH = 64


def answer_fetch(streams: Mapping[str, Any], request: Any, now: float) -> List[Payload]:
    """
    Return one ``Payload`` per requested seq, in request order; never blocks.

    :param streams: stream name -> object with a ``ring`` (:class:`PayloadRing`)
    :param request: a ``FetchPayload.Request``
    :param now: monotonic time, for TTL expiry
    """
    seqs = list(request.seqs)
    stream = streams.get(request.stream)
    if not seqs or len(seqs) > MAX_BATCH:
        why = f'ask for 1 to {MAX_BATCH} seqs per request, got {len(seqs)}'
        return [_status(request.stream, s, FetchStatus.BAD_REQUEST, why) for s in seqs[:1] or [0]]
    if stream is None:
        known = ', '.join(sorted(streams)) or 'none'
        why = f'stream {request.stream!r} is not served here (streams: {known})'
        return [_status(request.stream, s, FetchStatus.UNKNOWN, why) for s in seqs]
    out = []
    for seq in seqs:
        status, slot = stream.ring.lookup(seq, now)
        if slot is None:
            why = ('evicted or older than the TTL' if status is FetchStatus.EXPIRED
                   else f'seq {seq} not produced yet (next is {stream.ring.next_seq})')
            out.append(_status(request.stream, seq, status, why))
        elif request.max_bytes and slot.size > request.max_bytes:
            why = f'payload of {slot.size} bytes > max_bytes {request.max_bytes}'
            out.append(_status(request.stream, seq, FetchStatus.TOO_LARGE, why))
        else:
            msg = Payload(stream=request.stream, seq=seq, status=int(FetchStatus.OK),
                          crc32=slot.crc32)
            msg.data = to_uint8_array([stream.ring.read(slot)])
            out.append(msg)
    return out


def _status(stream: str, seq: int, status: FetchStatus, reason: str) -> Payload:
    return Payload(stream=stream, seq=seq, status=int(status), reason=reason)

"""
Answering ``FetchPayload`` requests from payload rings (no rclpy needed).

Every answer is bounded by what the request may ask for: one entry per requested seq, in
order, on every path; a stream name is echoed only when it names a served stream (so at
most :data:`MAX_NAME_LENGTH` characters); reasons are short; the payload bytes of one reply
stay within ``max_reply_bytes`` (entries past it answer ``TOO_LARGE``: ask for fewer seqs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

from edgeserve_ros.dataplane.codec import to_uint8_array
from edgeserve_ros.dataplane.status import FetchStatus, MAX_NAME_LENGTH
from edgeserve_ros.msg import Payload

#: Most sequence numbers one request may ask for.
MAX_BATCH = 64
#: Default bound on the payload bytes of one reply.
MAX_REPLY_BYTES = 256 << 20


@dataclass
class FetchCounts:
    """What a source's fetch service answered, for ``SourceStats``."""

    requests: int = 0
    items: int = 0
    ok: int = 0
    failed: int = 0
    bad_requests: int = 0

    def add(self, payloads: List[Payload]) -> None:
        """Count one answered request."""
        ok = sum(p.status == FetchStatus.OK for p in payloads)
        self.requests += 1
        self.items += len(payloads)
        self.ok += ok
        self.failed += len(payloads) - ok
        self.bad_requests += any(p.status == FetchStatus.BAD_REQUEST for p in payloads)


def request_problem(request: Any) -> Optional[str]:
    """Why ``request`` is malformed as a whole (short, never echoing it); None if it is not."""
    if not request.stream:
        return 'empty stream name'
    if len(request.stream) > MAX_NAME_LENGTH:
        return f'stream name of {len(request.stream)} characters > {MAX_NAME_LENGTH}'
    if not 1 <= len(request.seqs) <= MAX_BATCH:
        return f'ask for 1 to {MAX_BATCH} seqs per request, got {len(request.seqs)}'
    return None


def answer_fetch(streams: Mapping[str, Any], request: Any, now: float,
                 max_reply_bytes: int = MAX_REPLY_BYTES) -> List[Payload]:
    """
    Return one ``Payload`` per requested seq, in request order; never blocks.

    :param streams: stream name -> object with a ``ring`` (:class:`PayloadRing`)
    :param request: a ``FetchPayload.Request``
    :param now: monotonic time, for TTL expiry
    :param max_reply_bytes: bound on the payload bytes of the whole reply
    """
    seqs = list(request.seqs)
    problem = request_problem(request)
    if problem:  # the name is not echoed; the reason goes on the first entry only
        return [_status('', s, FetchStatus.BAD_REQUEST, problem if i == 0 else '')
                for i, s in enumerate(seqs)]
    stream = streams.get(request.stream)
    if stream is None:
        known = sorted(streams)
        why = (f'stream not served here (streams: {", ".join(known[:4]) or "none"}'
               f'{", ..." if len(known) > 4 else ""})')
        return [_status(request.stream, s, FetchStatus.UNKNOWN, why) for s in seqs]
    out, budget = [], max_reply_bytes
    for seq in seqs:
        status, slot = stream.ring.lookup(seq, now)
        if slot is None:
            why = ('evicted or older than the TTL' if status is FetchStatus.EXPIRED
                   else f'seq {seq} not produced yet (next is {stream.ring.next_seq})')
            out.append(_status(request.stream, seq, status, why))
        elif request.max_bytes and slot.size > request.max_bytes:
            why = f'payload of {slot.size} bytes > max_bytes {request.max_bytes}'
            out.append(_status(request.stream, seq, FetchStatus.TOO_LARGE, why))
        elif slot.size > budget:
            why = (f'payload of {slot.size} bytes past this reply\'s budget of '
                   f'{max_reply_bytes} bytes: ask for fewer seqs')
            out.append(_status(request.stream, seq, FetchStatus.TOO_LARGE, why))
        else:
            budget -= slot.size
            msg = Payload(stream=request.stream, seq=seq, status=int(FetchStatus.OK),
                          checksum=slot.checksum)
            msg.data = to_uint8_array([stream.ring.read(slot)])
            out.append(msg)
    return out


def _status(stream: str, seq: int, status: FetchStatus, reason: str) -> Payload:
    return Payload(stream=stream, seq=seq, status=int(status), reason=reason)

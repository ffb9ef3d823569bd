"""
WebSocket frames of ``/v1/models/{model}/stream``.

In: binary messages ``>I frame_id`` + image bytes (JPEG, PNG, WebP, BMP or a raw ESRW
frame, see :mod:`.imaging`). Out: one JSON text message per frame, in the order the
frames came: ``{"id": frame_id, "label": ..., "latency_ms": ...}`` or ``{"id": ...,
"error": ..., "status": 415|422|413|504}``. Close codes: 1008 (auth or unknown model),
1009 (message too big), 1013 (gateway or client queue full: try later), 1003 (a text or
headerless message).
"""

from __future__ import annotations

import struct
from typing import Tuple

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
CLOSE_UNSUPPORTED = 1003
_ID = struct.Struct('>I')


class FrameError(Exception):
    """A message that is not a frame; ``code`` is the close code to answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def split_frame(message: bytes, max_bytes: int) -> Tuple[int, bytes]:
    """Return (frame id, image bytes) of a binary message; raise :class:`FrameError`."""
    if len(message) > max_bytes:
        raise FrameError(CLOSE_TOO_BIG, f'frame of {len(message)} bytes exceeds '
                                        f'max_frame_bytes {max_bytes}')
    if len(message) <= _ID.size:
        raise FrameError(CLOSE_UNSUPPORTED, 'frame shorter than its 4-byte id')
    return _ID.unpack_from(message)[0], message[_ID.size:]


def make_frame(frame_id: int, image: bytes) -> bytes:
    """Return the binary message of one frame (clients, tests, benchmarks)."""
    return _ID.pack(frame_id & 0xFFFFFFFF) + image

"""
Byte-budgeted ring buffer holding the payloads of one stream at its source.

Payloads are appended contiguously into one fixed buffer (a ``bytearray`` or a shared
memory map, see :mod:`edgeserve_ros.dataplane.shm`); the buffer is the byte budget, so
memory is bounded by construction. Appending a payload that does not fit evicts the
oldest payloads it overlaps; a payload older than the TTL is expired. Both are counted.

Every slot starts with a 32-byte slot header (magic, state, seq, stream key, size) so
that a reader in another process can validate what it reads (see :class:`SlotReader`):
the writer marks a slot dead *before* it overwrites any of its bytes, and a seq is never
valid again once dead. The payload checksum (:mod:`~edgeserve_ros.dataplane.checksum`) is
computed once, here, when the payload is stored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import struct
import zlib
from typing import Deque, Optional, Sequence, Union

from edgeserve_ros.dataplane.checksum import Digest
from edgeserve_ros.dataplane.status import FetchStatus

Buffer = Union[bytes, bytearray, memoryview]

SLOT_HEADER = struct.Struct('<IIQQQ')  # magic, state, seq, key, size
SLOT_MAGIC = 0xE5E5_0001
STATE_DEAD = 0
STATE_VALID = 1
ALIGN = 64


def stream_key(stream: str) -> int:
    """Return the 64-bit key identifying a stream's slots in shared memory."""
    return zlib.crc32(stream.encode()) | (len(stream) << 32)


@dataclass(frozen=True)
class SlotInfo:
    """Where one stored payload lies, and what it is."""

    seq: int
    offset: int
    size: int
    #: XXH3-64 of the payload bytes (:func:`~edgeserve_ros.dataplane.checksum.checksum`)
    checksum: int
    stored_at: float


@dataclass
class RingStats:
    """Counters of a ring; every drop is counted under its cause."""

    stored: int = 0
    evicted: int = 0
    expired: int = 0
    rejected_too_large: int = 0
    stored_bytes: int = 0
    capacity_bytes: int = 0
    reasons: dict = field(default_factory=dict)


class PayloadTooLarge(ValueError):
    """A payload larger than the ring's whole byte budget."""


class PayloadRing:
    """
    Payload store of one stream with a byte budget (the buffer) and a TTL.

    :param stream: stream name (its key is written into every slot header)
    :param capacity: byte budget; ignored when ``buffer`` is given (its length is used)
    :param ttl: seconds a payload stays fetchable after it was stored
    :param buffer: writable buffer to use instead of a private ``bytearray``
    """

    def __init__(self, stream: str, capacity: int, ttl: float,
                 buffer: Optional[memoryview] = None) -> None:
        if ttl <= 0:
            raise ValueError(f'ttl must be > 0 s, got {ttl}')
        if buffer is None:
            if capacity < ALIGN * 2:
                raise ValueError(f'capacity must be >= {ALIGN * 2} bytes, got {capacity}')
            buffer = memoryview(bytearray(capacity))
        self.stream = stream
        self.key = stream_key(stream)
        self.ttl = ttl
        self._buf = buffer
        self._cap = len(buffer)
        self._slots: Deque[SlotInfo] = deque()
        self._head = 0
        self._next_seq = 0
        self.stats = RingStats(capacity_bytes=self._cap)

    @property
    def capacity(self) -> int:
        """Return the byte budget."""
        return self._cap

    @property
    def next_seq(self) -> int:
        """Return the sequence number the next payload will get."""
        return self._next_seq

    def __len__(self) -> int:
        return len(self._slots)

    def put(self, parts: Sequence[Buffer], now: float) -> SlotInfo:
        """
        Store one payload given as consecutive parts; return its slot.

        :raises PayloadTooLarge: when the payload exceeds the whole budget (nothing lost)
        """
        size = sum(_bytes_view(p).nbytes for p in parts)
        need = _aligned(SLOT_HEADER.size + size)
        if need > self._cap:
            self.stats.rejected_too_large += 1
            raise PayloadTooLarge(
                f'stream {self.stream!r}: payload of {size} bytes exceeds the ring budget of '
                f'{self._cap} bytes')
        self.expire(now)
        start = self._make_room(need)
        seq = self._next_seq
        digest = Digest()
        pos = start + SLOT_HEADER.size
        for part in parts:
            view = _bytes_view(part)
            self._buf[pos:pos + view.nbytes] = view
            digest.update(view)
            pos += view.nbytes
        SLOT_HEADER.pack_into(self._buf, start, SLOT_MAGIC, STATE_VALID, seq, self.key, size)
        slot = SlotInfo(seq, start, size, digest.value(), now)
        self._slots.append(slot)
        self._head = start + need
        self._next_seq += 1
        self.stats.stored += 1
        self.stats.stored_bytes += need
        return slot

    def lookup(self, seq: int, now: float) -> tuple[FetchStatus, Optional[SlotInfo]]:
        """Return the status of ``seq`` and its slot when it is still held."""
        self.expire(now)
        if seq >= self._next_seq:
            return FetchStatus.UNKNOWN, None
        if not self._slots or seq < self._slots[0].seq:
            return FetchStatus.EXPIRED, None
        return FetchStatus.OK, self._slots[seq - self._slots[0].seq]

    def read(self, slot: SlotInfo) -> memoryview:
        """Return a view of a held slot's payload (valid until the next put)."""
        begin = slot.offset + SLOT_HEADER.size
        return self._buf[begin:begin + slot.size]

    def expire(self, now: float) -> int:
        """Drop payloads stored more than ``ttl`` ago; return how many."""
        dropped = 0
        while self._slots and now - self._slots[0].stored_at > self.ttl:
            self._drop_oldest()
            dropped += 1
        self.stats.expired += dropped
        return dropped

    def _make_room(self, need: int) -> int:
        """
        Evict the oldest slots overlapping the next ``need`` bytes; return their start.

        Live slots always form one circular run from the oldest slot to ``_head``; a slot
        whose offset is at or after ``_head`` lies ahead of the writer (previous lap).
        """
        if not self._slots:
            self._head = 0
        if self._head + need > self._cap:
            while self._slots and self._slots[0].offset >= self._head:
                self._evict_oldest()
            self._head = 0
        end = self._head + need
        while self._slots and self._head <= self._slots[0].offset < end:
            self._evict_oldest()
        return self._head

    def _evict_oldest(self) -> None:
        self._drop_oldest()
        self.stats.evicted += 1

    def _drop_oldest(self) -> None:
        slot = self._slots.popleft()
        SLOT_HEADER.pack_into(self._buf, slot.offset, SLOT_MAGIC, STATE_DEAD, slot.seq,
                              self.key, slot.size)
        self.stats.stored_bytes -= _aligned(SLOT_HEADER.size + slot.size)


def _bytes_view(part: Buffer) -> memoryview:
    view = memoryview(part)
    return view if view.ndim == 1 and view.format in ('B', 'b', 'c') else view.cast('B')


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class SlotReader:
    """
    Validated reads of slots out of a buffer that another process writes.

    A read is accepted only when the slot header names the expected stream and seq and is
    valid both before and after the read (a seqlock: the writer kills the header before it
    touches the data, and a dead seq never becomes valid again). :meth:`view` is the
    zero-copy read: the caller reads the view, then calls :meth:`intact`; while that is
    True, everything read from the view so far is the payload as stored.
    """

    def __init__(self, buffer: memoryview) -> None:
        self._buf = buffer

    def view(self, offset: int, key: int, seq: int, size: int) -> Optional[memoryview]:
        """Return a view of the payload (no copy), or None when the slot is not held."""
        if offset < 0 or offset + SLOT_HEADER.size + size > len(self._buf):
            return None
        if not self.intact(offset, key, seq, size):
            return None
        begin = offset + SLOT_HEADER.size
        return self._buf[begin:begin + size]

    def copy(self, offset: int, key: int, seq: int, size: int) -> Optional[bytes]:
        """Return the payload bytes, or None when the slot was evicted meanwhile."""
        view = self.view(offset, key, seq, size)
        if view is None:
            return None
        data = bytes(view)
        view.release()
        return data if self.intact(offset, key, seq, size) else None

    def intact(self, offset: int, key: int, seq: int, size: int) -> bool:
        """Return True while the slot still holds payload ``seq`` of stream ``key``."""
        magic, state, s_seq, s_key, s_size = SLOT_HEADER.unpack_from(self._buf, offset)
        return (magic == SLOT_MAGIC and state == STATE_VALID and s_seq == seq
                and s_key == key and s_size == size)

    def close(self) -> None:
        """Release the view of the buffer."""
        self._buf.release()

"""
Optional durable, time-indexed payload log in MCAP (paper section 4.3, figure 2 step 2).

Each stored payload is appended as one MCAP message on a channel named after its stream,
with ``log_time`` = collection stamp, so the log can be replayed or indexed by time with any
MCAP reader. The log has a byte bound: past it, payloads are not logged and are counted.
"""

from __future__ import annotations

from typing import Any, BinaryIO, Dict, Optional

from mcap.writer import CompressionType, Writer


class PayloadLog:
    """
    An MCAP file of payloads, written in the order they are stored.

    :param path: file to create (overwritten)
    :param max_bytes: stop logging once this many payload bytes are written (0: no bound)
    """

    def __init__(self, path: str, max_bytes: int = 0) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.logged = 0
        self.logged_bytes = 0
        self.dropped = 0
        self._file: Optional[BinaryIO] = open(path, 'wb')
        self._writer = Writer(self._file, compression=CompressionType.NONE)
        self._writer.start(profile='', library='edgeserve_ros')
        self._channels: Dict[str, int] = {}

    def append(self, stream: str, seq: int, stamp_ns: int, data: Any, content_type: str) -> bool:
        """Log one payload; return False (and count it) when the byte bound is reached."""
        size = memoryview(data).nbytes
        if self._file is None or (self.max_bytes and self.logged_bytes + size > self.max_bytes):
            self.dropped += 1
            return False
        channel = self._channels.get(stream)
        if channel is None:
            channel = self._writer.register_channel(topic=stream, message_encoding=content_type,
                                                    schema_id=0)
            self._channels[stream] = channel
        self._writer.add_message(channel_id=channel, log_time=stamp_ns, publish_time=stamp_ns,
                                 sequence=seq % (1 << 32), data=bytes(data))
        self.logged += 1
        self.logged_bytes += size
        return True

    def close(self) -> None:
        """Finish the file (summary and indexes) and close it."""
        if self._file is not None:
            self._writer.finish()
            self._file.close()
            self._file = None

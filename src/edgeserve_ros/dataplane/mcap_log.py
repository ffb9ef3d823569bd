"""
Optional durable, time-indexed payload log in MCAP (paper section 4.3, figure 2 step 2).

Written in MCAP's ROS 2 profile (``ros2msg`` schemas, CDR messages, via mcap-ros2-support),
so ``ros2 bag``, Foxglove and ``mcap_ros2.reader`` decode it. Per stream ``S``:

- ``S/payload``: one ``edgeserve_ros/msg/Payload`` per stored payload (stream, seq,
  checksum (XXH3-64), data), as a fetch would return it; ``log_time`` = collection stamp;
- ``S``: the ``edgeserve_ros/msg/PayloadHeader`` published for it, as built (its
  ``send_stamp`` is set later, when sent, and is 0 here).

A prediction (or label) stream whose source has a log gets its JSON payloads logged alike.

The log has a byte bound: past it, payloads are not logged and are counted.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO, Dict, List, Optional, TYPE_CHECKING

from ament_index_python.packages import get_package_share_directory, PackageNotFoundError

from edgeserve_ros.dataplane.checksum import checksum

if TYPE_CHECKING:
    from mcap.records import Schema

PAYLOAD = 'edgeserve_ros/msg/Payload'
HEADER = 'edgeserve_ros/msg/PayloadHeader'
PAYLOAD_SUFFIX = '/payload'
_PRIMITIVES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16',
               'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring'}
_SEPARATOR = '=' * 80


def _msg_text(name: str) -> str:
    """Return the ``.msg`` text of ``pkg/msg/Type`` from the package's share directory."""
    pkg, _, msg = name.split('/')
    try:
        with open(f'{get_package_share_directory(pkg)}/msg/{msg}.msg') as f:
            return f.read()
    except (PackageNotFoundError, OSError) as exc:
        raise ValueError(f'message definition {name} not found: {exc}') from None


def _field_types(text: str, pkg: str) -> List[str]:
    """Return the ``pkg/msg/Type`` of every non-primitive field of a ``.msg`` text."""
    out = []
    for line in text.splitlines():
        words = line.split('#', 1)[0].split()
        if len(words) < 2 or '=' in words[1]:
            continue  # blank, comment or constant
        base = re.sub(r'(<=\d+)|(\[.*\])', '', words[0])
        if base in _PRIMITIVES:
            continue
        dep_pkg, _, dep = base.rpartition('/')
        out.append(f'{dep_pkg or pkg}/msg/{dep}')
    return out


def msgdef(name: str) -> str:
    """
    Return the ``ros2msg`` schema of ``name``: its ``.msg`` text and every dependency's.

    Dependencies follow as ``MSG: pkg/msg/Type`` blocks after a line of ``=``, as
    rosbag2 writes them.
    """
    parts, seen, todo = [], {name}, [name]
    while todo:
        current = todo.pop(0)
        text = _msg_text(current)
        parts.append(text if current == name else f'{_SEPARATOR}\nMSG: {current}\n{text}')
        for dep in _field_types(text, current.split('/')[0]):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return '\n'.join(parts)


class PayloadLog:
    """
    An MCAP file (ROS 2 profile) of payloads and headers, written in the order they come.

    :param path: file to create (overwritten)
    :param max_bytes: stop logging once this many payload bytes are written (0: no bound)
    :raises OSError: the file cannot be created
    """

    def __init__(self, path: str, max_bytes: int = 0) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.logged = 0
        self.logged_bytes = 0
        self.dropped = 0
        from mcap.writer import CompressionType  # only where a log is asked for
        from mcap_ros2.writer import Writer
        self._file: Optional[BinaryIO] = open(path, 'wb')
        self._writer = Writer(self._file, compression=CompressionType.NONE)
        self._schemas: Dict[str, 'Schema'] = {}

    def _schema(self, name: str) -> 'Schema':
        if name not in self._schemas:
            self._schemas[name] = self._writer.register_msgdef(name, msgdef(name))
        return self._schemas[name]

    def append(self, stream: str, seq: int, stamp_ns: int, data: Any, content_type: str,
               digest: Optional[int] = None) -> bool:
        """
        Log one payload; return False (and count it) when the byte bound is reached.

        :param digest: the payload's checksum when already known (the ring's, from store
            time); computed here otherwise
        """
        size = memoryview(data).nbytes
        if self._file is None or (self.max_bytes and self.logged_bytes + size > self.max_bytes):
            self.dropped += 1
            return False
        raw = bytes(data)
        message = {'stream': stream, 'seq': seq, 'status': 0, 'reason': '',
                   'checksum': checksum(raw) if digest is None else digest, 'data': raw}
        self._writer.write_message(stream + PAYLOAD_SUFFIX, self._schema(PAYLOAD), message,
                                   log_time=stamp_ns, publish_time=stamp_ns,
                                   sequence=seq % (1 << 32))
        self.logged += 1
        self.logged_bytes += size
        return True

    def append_header(self, header: Any, stamp_ns: int) -> None:
        """Log the ``PayloadHeader`` message published for a logged payload."""
        if self._file is not None:
            self._writer.write_message(header.stream, self._schema(HEADER), header,
                                       log_time=stamp_ns, publish_time=stamp_ns,
                                       sequence=header.seq % (1 << 32))

    def close(self) -> None:
        """Finish the file (summary and indexes) and close it."""
        if self._file is not None:
            self._writer.finish()
            self._file.close()
            self._file = None

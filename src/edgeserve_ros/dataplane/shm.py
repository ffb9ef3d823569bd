"""
Same-host fast path: payload rings in POSIX shared memory (``/dev/shm``).

A source places a stream's ring in a shared memory file; a consumer on the same host
(same machine *and* network namespace, see :func:`host_id`) maps it read-only and verifies
a payload's checksum in place instead of receiving it through the fetch service; it copies
the bytes only when it keeps them. Reads are validated with the slot header
(:class:`~edgeserve_ros.dataplane.ring.SlotReader`); when validation fails, the client falls
back to the service, which answers with an explicit status.
"""

from __future__ import annotations

import mmap
import os
import secrets
from typing import Dict, Optional

from edgeserve_ros.dataplane.ring import PayloadRing, SlotReader

SHM_DIR = '/dev/shm'


def host_id() -> str:
    """
    Return an id equal for processes that can share memory and the same network.

    Machine id plus the inode of the network namespace: processes in different network
    namespaces of one machine count as different hosts, as they do in the multi-host tests.
    """
    machine = ''
    for path in ('/etc/machine-id', '/var/lib/dbus/machine-id'):
        try:
            with open(path) as f:
                machine = f.read().strip()
            break
        except OSError:
            continue
    try:
        netns = os.stat('/proc/self/ns/net').st_ino
    except OSError:
        netns = 0
    return f'{machine or os.uname().nodename}:{netns}'


def shm_available() -> bool:
    """Return True when ``/dev/shm`` exists and is writable."""
    return os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK)


def remove_stale_segments() -> int:
    """Unlink the rings of dead processes (a source killed with SIGKILL cannot); return count."""
    removed = 0
    for name in os.listdir(SHM_DIR) if os.path.isdir(SHM_DIR) else ():
        parts = name.split('_')
        if len(parts) != 3 or parts[0] != 'edgeserve' or not parts[1].isdigit():
            continue
        if os.path.exists(f'/proc/{parts[1]}'):
            continue
        try:
            os.unlink(os.path.join(SHM_DIR, name))
            removed += 1
        except OSError:
            pass
    return removed


class SharedPayloadRing(PayloadRing):
    """A :class:`PayloadRing` whose buffer is a shared memory file; unlinked on close."""

    def __init__(self, stream: str, capacity: int, ttl: float) -> None:
        remove_stale_segments()
        self.shm_name = f'edgeserve_{os.getpid()}_{secrets.token_hex(4)}'
        self._path = os.path.join(SHM_DIR, self.shm_name)
        fd = os.open(self._path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, capacity)
            self._map = mmap.mmap(fd, capacity)
        finally:
            os.close(fd)
        super().__init__(stream, capacity, ttl, buffer=memoryview(self._map))

    def close(self) -> None:
        """Unmap and unlink the shared memory file."""
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass
        self._buf.release()
        self._map.close()


class ShmAttachments:
    """Read-only maps of other processes' rings, opened on first use and kept (bounded)."""

    def __init__(self, max_open: int = 64) -> None:
        self._readers: Dict[str, SlotReader] = {}
        self._maps: Dict[str, mmap.mmap] = {}
        self._max_open = max_open

    def reader(self, shm_name: str) -> Optional[SlotReader]:
        """Return a reader of ``shm_name``, or None when it cannot be mapped."""
        if shm_name in self._readers:
            return self._readers[shm_name]
        if '/' in shm_name or not shm_name.startswith('edgeserve_'):
            return None
        try:
            fd = os.open(os.path.join(SHM_DIR, shm_name), os.O_RDONLY)
        except OSError:
            return None
        try:
            mapped = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        if len(self._maps) >= self._max_open:
            self.close()
        self._maps[shm_name] = mapped
        self._readers[shm_name] = SlotReader(memoryview(mapped))
        return self._readers[shm_name]

    def forget(self, shm_name: str) -> None:
        """Drop the map of a segment (e.g. its source restarted)."""
        reader = self._readers.pop(shm_name, None)
        if reader is not None:
            reader.close()
        mapped = self._maps.pop(shm_name, None)
        if mapped is not None:
            try:
                mapped.close()
            except BufferError:
                pass  # zero-copy results still view it: unmapped when the last one is gone

    def close(self) -> None:
        """Close every map."""
        for name in list(self._maps):
            self.forget(name)

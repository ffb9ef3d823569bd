"""
Payload checksum of the data plane: XXH3-64 (seed 0), from the ``xxhash`` package.

The source computes it once, when it stores a payload (:class:`Digest` over the payload's
parts, see :class:`~edgeserve_ros.dataplane.ring.PayloadRing`), and publishes it as
``PayloadHeader.checksum`` and ``Payload.checksum``; a consumer recomputes it over the bytes
it received (or over the shared memory it maps, without copying them) and reports
``CORRUPT`` on a mismatch.

Why XXH3-64: measured on the 2-core AMD EPYC dev machine at 8 MB (memcpy 9.8-10.1 GB/s in the
same run): ``xxhash.xxh3_64`` 18.2-18.4 GB/s, ICRAR ``crc32c`` (SSE4.2) 16.8 GB/s,
``google-crc32c`` 13.6 GB/s (and it accepts only ``bytes``, not a view of shared memory),
``zlib.crc32`` 2.2-2.3 GB/s. ``xxhash`` (python-xxhash, bundling the upstream xxHash
library) is maintained, has wheels for every CPython the locks use and hashes any buffer
(a read-only view of shared memory too) in place; 64 bits make an undetected random
corruption 2^32 times rarer than 32 bits do.
It detects corruption, not tampering: it is not a cryptographic hash.
"""

from __future__ import annotations

from typing import Any

import xxhash

#: The algorithm's name, as the messages' comments and the docs spell it.
ALGORITHM = 'XXH3-64'


def checksum(data: Any) -> int:
    """Return the XXH3-64 (seed 0) of a bytes-like object as an unsigned 64-bit int."""
    return xxhash.xxh3_64_intdigest(data)


class Digest:
    """Incremental XXH3-64 of consecutive parts (equal to :func:`checksum` of their join)."""

    def __init__(self) -> None:
        self._state = xxhash.xxh3_64()

    def update(self, part: Any) -> None:
        """Add the next part (any bytes-like object)."""
        self._state.update(part)

    def value(self) -> int:
        """Return the checksum of the parts added so far."""
        return self._state.intdigest()

"""Built-in data for sources without a sensor: sized arrays and 1080p test frames."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from edgeserve_ros.dataplane.images import ImageFrame

PATTERNS = ('array', 'image', 'bytes')


def synthetic_items(pattern: str, payload_bytes: int, count: int = 0,
                    seed: int = 0) -> Iterator[Any]:
    """
    Yield ``count`` items (endless when 0) of about ``payload_bytes`` each.

    ``array``: float32 vectors whose first element is the sequence number; ``bytes``: opaque
    random bytes; ``image``: 1920x1080 bgr8 frames with a moving bright square (the size is
    fixed at 6 MB, like the paper's uncompressed frames).
    """
    if pattern not in PATTERNS:
        raise ValueError(f'pattern must be one of {", ".join(PATTERNS)}, got {pattern!r}')
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=max(payload_bytes, 1), dtype=np.uint8)
    frame = np.zeros((1080, 1920, 3), dtype=np.uint8) if pattern == 'image' else None
    seq = 0
    while count == 0 or seq < count:
        if pattern == 'array':
            values = base[:max(payload_bytes // 4, 1) * 4].view(np.float32).copy()
            values[0] = seq
            yield values
        elif pattern == 'bytes':
            yield bytes(base)
        else:
            assert frame is not None
            frame[:] = 32
            x = (seq * 37) % (1920 - 200)
            frame[440:640, x:x + 200] = 255
            yield ImageFrame(frame.copy(), 'bgr8')
        seq += 1

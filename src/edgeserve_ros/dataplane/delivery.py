"""Delivery mode of a stream: lazy (header only), eager (payload inline) or auto by size."""

from __future__ import annotations

import enum
from typing import Optional

#: Default auto threshold in bytes: payloads up to this size go inline. Chosen from
#: bench/results/delivery_modes.md (break-even of eager vs lazy total communication latency).
DEFAULT_AUTO_THRESHOLD = 64 * 1024
#: Auto threshold while consumers fetch through the service (another host, or a ring outside
#: shared memory): there eager beat lazy up to 512 KB in bench/results/delivery_modes.md.
DEFAULT_SERVICE_THRESHOLD = 512 * 1024
#: Seconds one service fetch of a stream counts as a consumer that cannot read its ring.
SERVICE_FETCH_MEMORY_S = 10.0


class DeliveryMode(enum.Enum):
    """How payloads reach consumers."""

    LAZY = 'lazy'
    EAGER = 'eager'
    AUTO = 'auto'

    @classmethod
    def parse(cls, text: str) -> 'DeliveryMode':
        """Parse ``lazy|eager|auto``; raise ValueError naming the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f'delivery must be one of lazy, eager, auto; got {text!r}') from None


def send_inline(mode: DeliveryMode, size: int, threshold: int = DEFAULT_AUTO_THRESHOLD) -> bool:
    """Return True when a payload of ``size`` bytes travels inside its header."""
    if mode is DeliveryMode.EAGER:
        return True
    if mode is DeliveryMode.LAZY:
        return False
    return size <= threshold


def auto_threshold(shared: bool, last_service_fetch: Optional[float], now: float,
                   shm_threshold: int = DEFAULT_AUTO_THRESHOLD,
                   service_threshold: int = DEFAULT_SERVICE_THRESHOLD,
                   memory: float = SERVICE_FETCH_MEMORY_S) -> int:
    """
    Return the auto threshold for a stream's next payload.

    The shared-memory one while every consumer can read the ring (it is in shared memory and
    nobody fetched through the service in the last ``memory`` seconds); else the service one.

    :param shared: the ring is in shared memory
    :param last_service_fetch: monotonic time of the stream's last service fetch, if any
    :param now: monotonic time
    """
    remote = not shared or (last_service_fetch is not None and now - last_service_fetch < memory)
    return service_threshold if remote else shm_threshold

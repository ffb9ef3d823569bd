"""Delivery mode of a stream: lazy (header only), eager (payload inline) or auto by size."""

from __future__ import annotations

import enum

#: Default auto threshold in bytes: payloads up to this size go inline. Chosen from
#: bench/results/delivery_modes.md (break-even of eager vs lazy total communication latency).
DEFAULT_AUTO_THRESHOLD = 64 * 1024


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

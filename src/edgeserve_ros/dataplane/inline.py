"""
Same-host payloads sent inline to a reader on another host, within a byte budget.

A node that hands headers on to other hosts (the shared queue's pull answers) can read the
payloads of its own host's rings from shared memory and send them in the header
(``DELIVERY_EAGER``): the reader then needs no fetch round trip of its own. The reader still
checks the checksum computed at store time (:class:`~edgeserve_ros.dataplane.fetcher
.PayloadFetcher`); a slot overwritten during the copy is left lazy (its fetch answers
``EXPIRED``).
"""

from __future__ import annotations

from typing import Dict, Optional

from edgeserve_ros.dataplane.codec import to_uint8_array
from edgeserve_ros.dataplane.ring import stream_key
from edgeserve_ros.dataplane.shm import ShmAttachments
from edgeserve_ros.msg import PayloadHeader


class Inliner:
    """
    Turns lazy headers of this host's shared-memory rings into eager copies for other hosts.

    :param host: this host's id (:func:`edgeserve_ros.dataplane.shm.host_id`)
    :param budget: payload bytes one answer may carry inline (0: never inline)
    :param attachments: the ring maps to read through (default: a new, bounded set)
    """

    def __init__(self, host: str, budget: int,
                 attachments: Optional[ShmAttachments] = None) -> None:
        if budget < 0:
            raise ValueError(f'inline budget must be >= 0 bytes, not {budget}')
        self.host, self.budget = host, budget
        self._shm = attachments or ShmAttachments()
        self._left = 0
        #: inlined: headers sent with their payload; inline_bytes: their bytes; over_budget,
        #: unreadable: headers left lazy because the answer was full or the slot was gone
        self.counts: Dict[str, int] = dict.fromkeys(
            ('inlined', 'inline_bytes', 'over_budget', 'unreadable'), 0)

    def start(self, reader_host: str) -> bool:
        """
        Begin one answer for a reader on ``reader_host``; return whether it gets payloads.

        A reader on this host reads the rings itself; ``''`` (a reader without shared memory
        or one that does not say) counts as another host.
        """
        self._left = self.budget if reader_host != self.host else 0
        return self._left > 0

    def header(self, header: PayloadHeader) -> PayloadHeader:
        """Return ``header``, or an eager copy of it when its payload fits the answer."""
        if (not self._left or header.delivery != PayloadHeader.DELIVERY_LAZY
                or not header.shm_name or header.host_id != self.host):
            return header
        if header.size > self._left:
            self.counts['over_budget'] += 1
            return header
        reader = self._shm.reader(header.shm_name)
        slot = (header.shm_offset, stream_key(header.stream), header.seq, header.size)
        view = reader.view(*slot) if reader is not None else None
        if reader is None or view is None:
            self.counts['unreadable'] += 1
            return header
        data = to_uint8_array([view])
        view.release()
        if not reader.intact(*slot):
            self.counts['unreadable'] += 1
            return header
        out = PayloadHeader()
        for name in PayloadHeader.get_fields_and_field_types():
            setattr(out, name, getattr(header, name))
        out.delivery = PayloadHeader.DELIVERY_EAGER
        out.inline_payload = data
        self._left -= header.size
        self.counts['inlined'] += 1
        self.counts['inline_bytes'] += header.size
        return out

    def close(self) -> None:
        """Unmap the rings."""
        self._shm.close()

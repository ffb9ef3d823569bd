"""
Bounded admission: per-client and global image counts plus a byte budget.

An image holds a :class:`Ticket` from arrival until its answer (or failure), so neither a
flood from one client nor a client that stops reading can grow any queue: past the bound
the gateway answers 429 (HTTP) or closes with 1013 (WebSocket) at once, with a
``Retry-After`` estimated from recent service times. The byte budget bounds the decoded
images waiting in the gateway's payload ring. Thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import threading
from typing import Dict, Optional


@dataclass
class Ticket:
    """Admission of ``count`` images of ``client``; release it exactly once."""

    client: str
    count: int
    nbytes: int = 0
    released: bool = False


class Rejected(Exception):
    """Admission refused; ``reason`` is ``client`` or ``global`` or ``bytes``."""

    def __init__(self, reason: str, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class Admission:
    """
    Counts admitted images per client and overall.

    :param max_queue: images admitted at once, all clients together
    :param max_client_queue: images admitted at once for one client
    :param max_bytes: decoded bytes reserved at once (:meth:`reserve`)
    """

    def __init__(self, max_queue: int, max_client_queue: int, max_bytes: int) -> None:
        self.max_queue, self.max_client_queue, self.max_bytes = (
            max_queue, max_client_queue, max_bytes)
        self._lock = threading.Lock()
        self._clients: Dict[str, int] = {}
        self.depth = 0
        self.nbytes = 0
        self.shed: Dict[str, int] = {'client': 0, 'global': 0, 'bytes': 0}
        self._service_s = 0.05  # EWMA of seconds from admission to answer

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the queue's expected drain time, >= 1."""
        return max(1, math.ceil(self._service_s * max(1, self.depth) / self.max_client_queue))

    def acquire(self, client: str, count: int = 1) -> Ticket:
        """Admit ``count`` images of ``client`` or raise :class:`Rejected`."""
        with self._lock:
            mine = self._clients.get(client, 0)
            if mine + count > self.max_client_queue:
                reason = 'client'
                text = (f'client queue full ({mine} of {self.max_client_queue} in flight, '
                        f'{count} more asked)')
            elif self.depth + count > self.max_queue:
                reason = 'global'
                text = f'gateway queue full ({self.depth} of {self.max_queue} in flight)'
            else:
                self._clients[client] = mine + count
                self.depth += count
                return Ticket(client, count)
            self.shed[reason] += count
            raise Rejected(reason, self.retry_after(), text)

    def reserve(self, ticket: Ticket, nbytes: int) -> None:
        """Reserve ``nbytes`` of the byte budget for ``ticket`` or raise :class:`Rejected`."""
        with self._lock:
            if self.nbytes + nbytes > self.max_bytes:
                self.shed['bytes'] += 1
                raise Rejected('bytes', self.retry_after(),
                               f'gateway image memory full ({self.nbytes} + {nbytes} bytes '
                               f'> {self.max_bytes})')
            self.nbytes += nbytes
            ticket.nbytes += nbytes

    def release(self, ticket: Ticket, seconds: Optional[float] = None) -> None:
        """Give back what ``ticket`` holds (again: no effect); fold ``seconds`` into the EWMA."""
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            left = self._clients.get(ticket.client, 0) - ticket.count
            if left > 0:
                self._clients[ticket.client] = left
            else:
                self._clients.pop(ticket.client, None)
            self.depth -= ticket.count
            self.nbytes -= ticket.nbytes
            if seconds is not None and seconds >= 0:
                self._service_s += 0.2 * (seconds / max(1, ticket.count) - self._service_s)

    def client_depth(self, client: str) -> int:
        """Return the images ``client`` has in flight."""
        with self._lock:
            return self._clients.get(client, 0)

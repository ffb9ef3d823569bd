"""
Consumer side of the lazy data plane: turn headers into payloads.

``PayloadFetcher(node)`` resolves a ``PayloadHeader`` by the cheapest path that works:
inline bytes (eager), the source's shared memory ring when it runs on the same host, or the
source's ``FetchPayload`` service (asynchronous, parallel, with timeout and retries). Every
result carries an explicit :class:`FetchStatus`; checksums (XXH3-64, see
:mod:`~edgeserve_ros.dataplane.checksum`) are verified. Same-host payloads are verified in
place in shared memory and copied only when the caller keeps them (:class:`FetchResult`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import threading
import time
import functools
from typing import Any, Callable, Deque, Dict, List, NamedTuple, Optional, Tuple

from rclpy.callback_groups import CallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

from edgeserve_ros.dataplane import codec
from edgeserve_ros.dataplane.checksum import ALGORITHM, checksum
from edgeserve_ros.dataplane.faults import FaultInjector, FaultSpec
from edgeserve_ros.dataplane.ring import stream_key
from edgeserve_ros.dataplane.serve import MAX_BATCH
from edgeserve_ros.dataplane.shm import ShmAttachments, host_id
from edgeserve_ros.dataplane.status import FetchStatus
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import FETCH_QOS
from edgeserve_ros.srv import FetchPayload


#: Returns True while a zero-copy payload's shared memory slot still holds that payload.
Guard = Callable[[], bool]


class FetchResult:
    """
    Outcome of fetching one header's payload.

    A same-host result is zero-copy: :attr:`view` is a read-only view of the source's ring
    in shared memory, verified in place, and :meth:`intact` tells whether the slot still
    holds this payload (the source overwrites the oldest slots as it stores new ones).
    :attr:`data` (and :meth:`value`, which decodes it) copies the payload out of the ring on
    first use and checks the slot again after the copy, so it is either the verified payload
    or, when the slot was overwritten first, ``None`` with the status turned to ``EXPIRED``;
    stale bytes are never returned. Inline and service results own their bytes.
    """

    def __init__(self, header: PayloadHeader, status: FetchStatus, data: Optional[Any] = None,
                 reason: str = '', path: str = '', seconds: float = 0.0,
                 guard: Optional[Guard] = None) -> None:
        self.header, self.status, self.reason = header, status, reason
        self.path = path  # 'inline', 'shm' or 'service'
        self.seconds = seconds
        self._data = data
        self._guard = guard  # None once the bytes are this result's own

    def __repr__(self) -> str:
        return (f'FetchResult({self.header.stream}#{self.header.seq}, {self.status.name}, '
                f'path={self.path!r}, size={self.size}, reason={self.reason!r})')

    @property
    def ok(self) -> bool:
        """Return True when the payload is there, verified (and its slot still intact)."""
        if self.status is FetchStatus.OK and not self.intact():
            self._overwritten()
        return self.status is FetchStatus.OK

    @property
    def view(self) -> Optional[Any]:
        """
        Return the payload without copying it (None unless OK).

        For a shared memory result this is a read-only ``memoryview`` of the source's ring:
        read it, then check :meth:`intact`; keep it only through :attr:`data`.
        """
        return self._data if self.status is FetchStatus.OK else None

    @property
    def size(self) -> int:
        """Return the payload's length in bytes (0 when there is none)."""
        return len(self._data) if self._data is not None else 0

    def intact(self) -> bool:
        """Return True unless this result is a view of a slot that was overwritten since."""
        return self._guard is None or self._guard()

    @property
    def data(self) -> Optional[Any]:
        """Return the payload bytes to keep (``bytes`` or a view of the received message)."""
        return self.keep()

    def keep(self) -> Optional[Any]:
        """Copy a zero-copy payload out of the ring (once) and return it; see :attr:`data`."""
        if self._guard is not None and self._data is not None and self.status is FetchStatus.OK:
            copied = bytes(self._data)
            if not self._guard():
                self._overwritten()
                return None
            self._data, self._guard = copied, None
        return self._data if self.status is FetchStatus.OK else None

    def _overwritten(self) -> None:
        self.status, self._data, self._guard = FetchStatus.EXPIRED, None, None
        self.reason = 'shared memory slot overwritten by the source before the payload was kept'

    def value(self) -> Any:
        """Decode the payload by its content type (numpy array, bytes, JSON, image)."""
        data = self.data
        if data is None:
            raise codec.PayloadError(f'{self.header.stream}#{self.header.seq}: no payload '
                                     f'({self.status.name}: {self.reason})')
        h = self.header
        return codec.decode(data, h.content_type, encoding=h.encoding, height=h.height,
                            width=h.width, step=h.step, is_bigendian=h.is_bigendian)

    def message(self, msg_type: Any) -> Any:
        """Deserialize a CDR payload (gateway streams) into ``msg_type``, chosen locally."""
        from rclpy.serialization import deserialize_message
        if self.header.content_type != codec.CDR:
            raise codec.PayloadError(f'{self.header.stream}: payload is '
                                     f'{self.header.content_type}, not a ROS message')
        return deserialize_message(self.value(), msg_type)


class _Outcome(NamedTuple):
    status: FetchStatus
    data: Optional[Any]
    reason: str
    path: str
    guard: Optional[Guard] = None


@dataclass
class _Pending:
    """One service request in flight: a batch of seqs of one stream at one source."""

    headers: List[PayloadHeader]
    futures: List[Future]
    started: float
    attempts: int = 0
    deadline: float = 0.0
    call: Optional[Future] = None
    #: _send is between clearing ``call`` and setting it (the timeout timer leaves it alone)
    sending: bool = False


class PayloadFetcher:
    """
    Fetches payloads for the headers a consumer decides to use.

    :param timeout: seconds to wait for one service answer before retrying
    :param retries: extra attempts after the first one times out
    :param max_in_flight: service requests outstanding at once; more wait in a queue
    :param use_shm: read same-host payloads from shared memory
    :param fault: loss/delay injected on service answers (tests and benchmarks)
    """

    def __init__(self, node: Node, timeout: float = 2.0, retries: int = 2,
                 max_in_flight: int = 8, use_shm: bool = True, verify: bool = True,
                 fault: FaultSpec = FaultSpec(),
                 callback_group: Optional[CallbackGroup] = None) -> None:
        if timeout <= 0 or retries < 0 or max_in_flight < 1:
            raise ValueError('fetcher needs timeout > 0, retries >= 0, max_in_flight >= 1')
        self.node = node
        self.timeout, self.retries, self.verify = timeout, retries, verify
        self.max_in_flight = max_in_flight
        self._host = host_id() if use_shm else None
        self._shm = ShmAttachments()
        self._group = callback_group or ReentrantCallbackGroup()
        self._clients: Dict[str, Any] = {}
        self._lock = threading.Lock()
        self._queue: Deque[_Pending] = deque()
        self._in_flight: List[_Pending] = []
        self._faults = FaultInjector(fault)
        self.counts: Dict[str, int] = {}
        self.bytes_fetched = 0
        self._timer = node.create_timer(0.01, self._check_timeouts, callback_group=self._group)

    @property
    def host(self) -> str:
        """Return the host whose shared-memory rings this fetcher reads ('' for none)."""
        return self._host or ''

    def fetch_async(self, header: PayloadHeader) -> Future:
        """Start fetching ``header``'s payload; the future resolves to a FetchResult."""
        return self.fetch_many_async([header])[0]

    def fetch_many_async(self, headers: List[PayloadHeader]) -> List[Future]:
        """
        Start fetching several payloads; return one future per header, in order.

        Headers of one stream at one source travel in batched requests of up to
        ``MAX_BATCH`` seqs; inline and shared-memory payloads need no request at all.
        """
        started = time.perf_counter()
        futures = [Future() for _ in headers]
        groups: Dict[Tuple[str, str], _Pending] = {}
        batches = []
        for header, future in zip(headers, futures):
            fast = self._local(header)
            if fast is not None:
                self._finish(header, future, started, fast)
                continue
            key = (header.fetch_service, header.stream)
            pending = groups.get(key)
            if pending is None or len(pending.headers) >= MAX_BATCH:
                pending = groups[key] = _Pending([], [], started)
                batches.append(pending)
            pending.headers.append(header)
            pending.futures.append(future)
        with self._lock:
            self._queue.extend(batches)
        self._pump()
        return futures

    def fetch(self, header: PayloadHeader, timeout: Optional[float] = None) -> FetchResult:
        """Fetch and wait (from a thread that is not spinning this node's executor)."""
        done = threading.Event()
        future = self.fetch_async(header)
        future.add_done_callback(lambda _: done.set())
        limit = timeout if timeout is not None else self.timeout * (self.retries + 1) + 1.0
        if not done.wait(limit) and not future.done():
            return FetchResult(header, FetchStatus.TIMEOUT, reason=f'no result in {limit:.1f} s')
        return future.result()

    def _local(self, header: PayloadHeader) -> Optional[_Outcome]:
        if header.delivery == PayloadHeader.DELIVERY_EAGER:
            return self._checked(header, memoryview(header.inline_payload), 'inline')
        if self._host and header.shm_name and header.host_id == self._host:
            return self._from_shm(header)
        return None

    def _from_shm(self, header: PayloadHeader) -> Optional[_Outcome]:
        """
        Verify a payload in place in the source's ring; None sends it to the service.

        The slot is checked after the checksum was computed: a slot overwritten meanwhile is
        left to the service, which answers EXPIRED, and is never reported as CORRUPT.
        """
        reader = self._shm.reader(header.shm_name)
        if reader is None:
            return None
        slot = (header.shm_offset, stream_key(header.stream), header.seq, header.size)
        view = reader.view(*slot)
        if view is None:
            return None
        mismatch = self.verify and checksum(view) != header.checksum
        if not reader.intact(*slot):
            return None
        if mismatch:
            return _Outcome(FetchStatus.CORRUPT, None, f'{ALGORITHM} mismatch', 'shm')
        return _Outcome(FetchStatus.OK, view, '', 'shm', functools.partial(_intact, reader, slot))

    def _checked(self, header: PayloadHeader, data: Any, path: str) -> _Outcome:
        if self.verify and checksum(data) != header.checksum:
            return _Outcome(FetchStatus.CORRUPT, None, f'{ALGORITHM} mismatch', path)
        return _Outcome(FetchStatus.OK, data, '', path)

    def _pump(self) -> None:
        while True:
            with self._lock:
                if not self._queue or len(self._in_flight) >= self.max_in_flight:
                    return
                pending = self._queue.popleft()
                self._in_flight.append(pending)
            self._send(pending)

    def _send(self, pending: _Pending) -> None:
        first = pending.headers[0]
        client = self._clients.get(first.fetch_service)
        if client is None:
            client = self.node.create_client(FetchPayload, first.fetch_service,
                                             qos_profile=FETCH_QOS, callback_group=self._group)
            self._clients[first.fetch_service] = client
        with self._lock:
            pending.attempts += 1
            pending.deadline = time.monotonic() + self.timeout
            pending.call = None
            pending.sending = True
        try:
            if not client.service_is_ready():
                return  # a request sent before discovery is lost: the timer sends it later
            request = FetchPayload.Request(stream=first.stream,
                                           seqs=[h.seq for h in pending.headers])
            call = client.call_async(request)
            with self._lock:
                pending.call = call
            call.add_done_callback(lambda done, p=pending: self._on_answer(p, done))
        finally:
            with self._lock:
                pending.sending = False

    def _on_answer(self, pending: _Pending, call: Future) -> None:
        if pending.call is not call or pending.futures[0].done():
            return  # a stale answer of a retried attempt
        if self._faults.lose():
            return  # injected loss: the timeout path retries
        answer = call.result().payloads
        outcomes: List[_Outcome] = []
        for i, header in enumerate(pending.headers):
            if len(answer) != len(pending.headers) or answer[i].seq != header.seq:
                outcomes.append(_Outcome(
                    FetchStatus.BAD_REQUEST, None,
                    f'answer does not match the request ({len(answer)} payloads)', 'service'))
            elif answer[i].status != FetchStatus.OK:
                outcomes.append(_Outcome(FetchStatus(answer[i].status), None, answer[i].reason,
                                         'service'))
            else:
                outcomes.append(self._checked(header, memoryview(answer[i].data), 'service'))
        self._complete(pending, outcomes)

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [p for p in self._in_flight if p.deadline and now > p.deadline]
            # attempts == 0: _pump has not sent it yet (another thread is about to)
            waiting = [p for p in self._in_flight
                       if p.call is None and p.attempts and not p.sending and p not in late]
            late = [p for p in late if not p.sending]
        for pending in waiting:
            client = self._clients.get(pending.headers[0].fetch_service)
            if client is not None and client.service_is_ready():
                pending.attempts -= 1  # not an attempt yet: nothing was sent
                self._send(pending)
        for pending in late:
            if pending.attempts <= self.retries:
                self._send(pending)
                continue
            service = pending.headers[0].fetch_service
            client = self._clients.get(service)
            status = (FetchStatus.TIMEOUT if client is not None and client.service_is_ready()
                      else FetchStatus.UNREACHABLE)
            outcome = _Outcome(status, None, f'{pending.attempts} attempt(s) of '
                               f'{self.timeout:.2f} s to {service}', 'service')
            self._complete(pending, [outcome] * len(pending.headers))

    def _complete(self, pending: _Pending, outcomes: List[_Outcome]) -> None:
        with self._lock:
            if pending in self._in_flight:
                self._in_flight.remove(pending)
        for header, future, outcome in zip(pending.headers, pending.futures, outcomes):
            self._finish(header, future, pending.started, outcome)
        self._pump()

    def _finish(self, header: PayloadHeader, future: Future, started: float,
                outcome: _Outcome) -> None:
        status, data, reason, path, guard = outcome
        if future.done():
            return
        key = f'{path or "none"}:{status.name}'
        self.counts[key] = self.counts.get(key, 0) + 1
        if data is not None:
            self.bytes_fetched += len(data)
        future.set_result(FetchResult(header, status, data, reason, path,
                                      time.perf_counter() - started, guard))

    def close(self) -> None:
        """Stop the timeout timer and unmap shared memory."""
        self.node.destroy_timer(self._timer)
        self._shm.close()


def _intact(reader: Any, slot: Tuple[int, int, int, int]) -> bool:
    """Return True while the shared memory slot is intact (False once its map is closed)."""
    try:
        return bool(reader.intact(*slot))
    except ValueError:  # the reader's map was released (ShmAttachments.forget)
        return False

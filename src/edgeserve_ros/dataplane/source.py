"""
Source side of the lazy data plane, for any rclpy node.

``PayloadSource(node)`` owns the payload rings of the node's streams and serves them with
one ``~/fetch`` service (``edgeserve_ros/srv/FetchPayload``). ``source.add_stream(name)``
returns a :class:`LazyStream`; ``stream.publish(value)`` stores the payload *first*, then
publishes its light header (or the payload inline, by delivery mode).
"""

from __future__ import annotations

from dataclasses import dataclass
import threading
import time
from typing import Any, Callable, Dict, Iterable, Optional

from rclpy.callback_groups import CallbackGroup, MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from edgeserve_ros.dataplane import codec
from edgeserve_ros.dataplane.delivery import (
    auto_threshold, DEFAULT_AUTO_THRESHOLD, DEFAULT_SERVICE_THRESHOLD, DeliveryMode, send_inline)
from edgeserve_ros.dataplane.faults import FaultInjector, FaultSpec
from edgeserve_ros.dataplane.mcap_log import PayloadLog
from edgeserve_ros.dataplane.ring import PayloadRing, PayloadTooLarge
from edgeserve_ros.dataplane.serve import answer_fetch, FetchCounts, MAX_REPLY_BYTES
from edgeserve_ros.dataplane.shm import SharedPayloadRing, host_id, shm_available
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import EAGER_QOS, FETCH_QOS, HEADER_QOS, with_lifespan
from edgeserve_ros.ros.timeconv import from_ns, from_sec
from edgeserve_ros.srv import FetchPayload


@dataclass(frozen=True)
class StreamOptions:
    """
    Per-stream settings of a source.

    :param capacity_bytes: byte budget of the stream's ring
    :param ttl: seconds a payload stays fetchable
    :param delivery: lazy, eager or auto
    :param auto_threshold: auto mode sends payloads up to this size inline while every
        consumer reads the shared-memory ring
    :param auto_service_threshold: the same while consumers fetch through the service
    :param use_shm: place the ring in shared memory for same-host consumers
    :param header_fault: delay/loss applied to header publication
    :param header_lifespan: seconds a header stays in the writer's history (DDS lifespan
        QoS; 0: unbounded). After a link outage a reliable writer re-sends its history
        ahead of the newest header; a lifespan of the consumers' ``max_age`` drops the
        stale ones, so the fresh header is not queued behind them
    :param log: optional durable MCAP log every payload is written to before its header
    """

    capacity_bytes: int = 64 * 1024 * 1024
    ttl: float = 10.0
    delivery: DeliveryMode = DeliveryMode.LAZY
    auto_threshold: int = DEFAULT_AUTO_THRESHOLD
    auto_service_threshold: int = DEFAULT_SERVICE_THRESHOLD
    use_shm: bool = True
    header_fault: FaultSpec = FaultSpec()
    log: Optional[PayloadLog] = None
    header_lifespan: float = 0.0


class LazyStream:
    """One stream of a :class:`PayloadSource`: store, then publish the header."""

    def __init__(self, source: 'PayloadSource', name: str, options: StreamOptions) -> None:
        node = source.node
        self.name = node.resolve_topic_name(name)
        self.options = options
        self._source = source
        shared = options.use_shm and shm_available()
        self.ring = (SharedPayloadRing(self.name, options.capacity_bytes, options.ttl) if shared
                     else PayloadRing(self.name, options.capacity_bytes, options.ttl))
        qos = EAGER_QOS if options.delivery is not DeliveryMode.LAZY else HEADER_QOS
        self._pub = node.create_publisher(PayloadHeader, self.name,
                                          with_lifespan(qos, options.header_lifespan))
        self._faults = FaultInjector(options.header_fault)
        self.published = 0
        #: monotonic time of the last fetch of this stream through the service
        self.last_service_fetch: Optional[float] = None
        self.last_send_latency = 0.0
        #: called as ``on_sent(header, seconds)`` after each header publish (metrics)
        self.on_sent: Optional[Callable[[PayloadHeader, float], None]] = None

    def matched(self) -> int:
        """Return how many subscriptions this stream's header writer has matched."""
        return self._pub.get_subscription_count()

    def publish(self, value: Any, stamp_ns: Optional[int] = None,
                frame_id: str = '') -> Optional[PayloadHeader]:
        """
        Store ``value`` and publish its header; return the header (None if lost).

        :param stamp_ns: collection time (source ROS clock, ns); default now
        :raises codec.PayloadError: value cannot be encoded (nothing stored)
        :raises PayloadTooLarge: payload exceeds the ring budget (nothing stored)
        """
        node = self._source.node
        if stamp_ns is None:
            stamp_ns = node.get_clock().now().nanoseconds
        enc = codec.encode(value)
        log, logged = self.options.log, False
        with self._source.lock:
            slot = self.ring.put(enc.parts, time.monotonic())
            if log is not None:
                logged = log.append(self.name, slot.seq, stamp_ns, self.ring.read(slot),
                                    enc.content_type, slot.checksum)
        msg = self._header(enc, slot, stamp_ns, frame_id)
        threshold = auto_threshold(isinstance(self.ring, SharedPayloadRing),
                                   self.last_service_fetch, time.monotonic(),
                                   self.options.auto_threshold,
                                   self.options.auto_service_threshold)
        if send_inline(self.options.delivery, slot.size, threshold):
            msg.delivery = PayloadHeader.DELIVERY_EAGER
            msg.inline_payload = codec.to_uint8_array(enc.parts)
        if log is not None and logged:
            with self._source.lock:
                log.append_header(msg, stamp_ns)
        if self._faults.lose():
            return None
        delay = self._faults.delay()
        if delay > 0:
            timer = threading.Timer(delay, self._send, args=(msg,))
            timer.daemon = True
            timer.start()
        else:
            self._send(msg)
        return msg

    def _send(self, msg: PayloadHeader) -> None:
        begin = time.perf_counter()
        msg.send_stamp = self._source.node.get_clock().now().to_msg()
        self._pub.publish(msg)
        self.last_send_latency = time.perf_counter() - begin
        self.published += 1
        if self.on_sent is not None:
            self.on_sent(msg, self.last_send_latency)

    def _header(self, enc: codec.Encoded, slot: Any, stamp_ns: int,
                frame_id: str) -> PayloadHeader:
        msg = PayloadHeader()
        msg.header.stamp = from_ns(stamp_ns)
        msg.header.frame_id = frame_id
        msg.stream, msg.seq, msg.size = self.name, slot.seq, slot.size
        msg.checksum = slot.checksum
        msg.content_type, msg.encoding = enc.content_type, enc.encoding
        msg.height, msg.width, msg.step = enc.height, enc.width, enc.step
        msg.is_bigendian = enc.is_bigendian
        msg.fetch_service = self._source.service_name
        msg.host_id = self._source.host
        if isinstance(self.ring, SharedPayloadRing):
            msg.shm_name, msg.shm_offset = self.ring.shm_name, slot.offset
        msg.expires = from_sec(stamp_ns * 1e-9 + self.options.ttl)
        return msg

    def close(self) -> None:
        """Release the ring (and its shared memory)."""
        if isinstance(self.ring, SharedPayloadRing):
            with self._source.lock:
                self.ring.close()


class PayloadSource:
    """Payload rings of one node's streams plus the node's ``~/fetch`` service."""

    def __init__(self, node: Node, callback_group: Optional[CallbackGroup] = None,
                 max_reply_bytes: int = MAX_REPLY_BYTES) -> None:
        self.node = node
        self.lock = threading.Lock()
        self.streams: Dict[str, LazyStream] = {}
        self.host = host_id()
        self.max_reply_bytes = max_reply_bytes
        #: what the fetch service answered (requests, entries, ok, failed, bad requests)
        self.fetches = FetchCounts()
        self._service = node.create_service(
            FetchPayload, '~/fetch', self._on_fetch, qos_profile=FETCH_QOS,
            callback_group=callback_group or MutuallyExclusiveCallbackGroup())
        self.service_name = node.resolve_service_name('~/fetch')

    def add_stream(self, name: str, options: StreamOptions = StreamOptions()) -> LazyStream:
        """Create a stream published on topic ``name``; raise ValueError if it exists."""
        stream = LazyStream(self, name, options)
        if stream.name in self.streams:
            stream.close()
            raise ValueError(f'stream {stream.name!r} already exists on this source')
        self.streams[stream.name] = stream
        return stream

    def register_iterable(self, name: str, items: Iterable[Any], period: float,
                          options: StreamOptions = StreamOptions(),
                          on_done: Optional[Callable[[], None]] = None) -> LazyStream:
        """Publish the items of any iterable/generator as a lazy stream, one per period."""
        if period <= 0:
            raise ValueError(f'period must be > 0 s, got {period}')
        stream = self.add_stream(name, options)
        iterator = iter(items)

        def tick() -> None:
            try:
                item = next(iterator)
            except StopIteration:
                timer.cancel()
                if on_done is not None:
                    on_done()
                return
            try:
                stream.publish(item)
            except (codec.PayloadError, PayloadTooLarge) as exc:
                self.node.get_logger().error(f'stream {stream.name}: item dropped: {exc}')

        timer = self.node.create_timer(period, tick)
        return stream

    @property
    def fetch_requests(self) -> int:
        """Fetch requests answered."""
        return self.fetches.requests

    @property
    def fetch_items(self) -> int:
        """Payloads asked for (a request may batch several seqs; a retry asks again)."""
        return self.fetches.items

    def _on_fetch(self, request: FetchPayload.Request,
                  response: FetchPayload.Response) -> FetchPayload.Response:
        stream = self.streams.get(request.stream)
        if stream is not None:  # a consumer that cannot read the ring: see auto_threshold
            stream.last_service_fetch = time.monotonic()
        with self.lock:
            response.payloads = answer_fetch(self.streams, request, time.monotonic(),
                                             self.max_reply_bytes)
            self.fetches.add(response.payloads)
        return response

    def close(self) -> None:
        """Release every stream's ring."""
        for stream in self.streams.values():
            stream.close()
        self.streams.clear()

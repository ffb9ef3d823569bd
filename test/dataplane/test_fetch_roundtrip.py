"""Header -> fetch round trips through real rclpy, DDS and the FetchPayload service."""

from conftest import wait_for
import numpy as np
import pytest
from rclpy.node import Node

from edgeserve_ros.dataplane.checksum import checksum
from edgeserve_ros.dataplane.codec import PayloadError
from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.fetcher import PayloadFetcher
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.dataplane.status import FetchStatus
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS

pytestmark = pytest.mark.ros


class _Collector:
    def __init__(self, node: Node, topic: str) -> None:
        self.headers = []
        node.create_subscription(PayloadHeader, topic, self.headers.append, HEADER_QOS)


def _pair(spinner, ros_context, options, use_shm_client=True):
    src_node = spinner.add(Node('src', context=ros_context))
    dst_node = spinner.add(Node('dst', context=ros_context))
    source = PayloadSource(src_node)
    stream = source.add_stream('cam', options)
    collector = _Collector(dst_node, '/cam')
    fetcher = PayloadFetcher(dst_node, timeout=1.0, retries=1, use_shm=use_shm_client)
    assert wait_for(lambda: src_node.count_subscribers('/cam') == 1, 5.0)
    return source, stream, collector, fetcher


@pytest.mark.parametrize('use_shm', [False, True], ids=['service', 'shm'])
def test_round_trip_verifies_checksum(spinner, ros_context, use_shm):
    source, stream, collector, fetcher = _pair(
        spinner, ros_context, StreamOptions(capacity_bytes=1 << 20, use_shm=use_shm))
    array = np.arange(20000, dtype=np.float32).reshape(100, 200)
    sent = stream.publish(array)
    assert wait_for(lambda: collector.headers, 5.0)
    header = collector.headers[0]
    assert header.size == sent.size and header.seq == 0 and not header.inline_payload
    result = fetcher.fetch(header)
    assert result.ok, result.reason
    assert result.path == ('shm' if use_shm else 'service')
    assert checksum(result.data) == header.checksum == stream.ring.lookup(0, 0.0)[1].checksum
    assert isinstance(result.data, bytes) if use_shm else True  # kept: copied out of the ring
    np.testing.assert_array_equal(result.value(), array)
    source.close()


@pytest.mark.parametrize('use_shm', [False, True], ids=['service', 'shm'])
def test_corrupt_payload_is_reported(spinner, ros_context, use_shm):
    source, stream, collector, fetcher = _pair(
        spinner, ros_context, StreamOptions(capacity_bytes=1 << 20, use_shm=use_shm))
    stream.publish(b'hello world')
    assert wait_for(lambda: collector.headers, 5.0)
    header = collector.headers[0]
    header.checksum ^= 1
    result = fetcher.fetch(header)
    assert result.status is FetchStatus.CORRUPT
    assert result.path == ('shm' if use_shm else 'service')
    assert 'XXH3-64' in result.reason and result.data is None
    source.close()


def test_shm_result_is_a_verified_view_kept_only_on_demand(spinner, ros_context):
    options = StreamOptions(capacity_bytes=8192, use_shm=True, delivery=DeliveryMode.LAZY)
    source, stream, collector, fetcher = _pair(spinner, ros_context, options)
    stream.publish(b'a' * 3000)
    stream.publish(b'b' * 3000)
    assert wait_for(lambda: len(collector.headers) == 2, 5.0)
    if not collector.headers[0].shm_name:
        pytest.skip('no /dev/shm on this machine')
    first, second = fetcher.fetch(collector.headers[0]), fetcher.fetch(collector.headers[1])
    assert first.path == second.path == 'shm' and first.ok and second.ok
    assert first.view.readonly and bytes(first.view) == b'a' * 3000 and first.intact()
    kept = second.data  # copied out now, while the slot is intact
    assert isinstance(kept, bytes) and second.view is kept
    for _ in range(3):
        stream.publish(b'c' * 3000)  # the 8 KiB ring wraps: both slots are overwritten
    assert not first.intact()
    assert not first.ok and first.status is FetchStatus.EXPIRED
    assert first.data is None and 'overwritten' in first.reason  # never the stale bytes
    with pytest.raises(PayloadError, match='EXPIRED'):
        first.value()
    assert second.ok and second.data == b'b' * 3000  # its own copy survives
    source.close()


def test_expired_payload_gives_explicit_status(spinner, ros_context):
    source, stream, collector, fetcher = _pair(
        spinner, ros_context, StreamOptions(capacity_bytes=1 << 20, ttl=0.2, use_shm=False))
    stream.publish(b'x' * 100)
    assert wait_for(lambda: collector.headers, 5.0)
    import time
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        time.sleep(0.05)  # let the payload outlive its TTL
    result = fetcher.fetch(collector.headers[0])
    assert result.status is FetchStatus.EXPIRED
    assert 'TTL' in result.reason
    assert stream.ring.stats.expired == 1
    source.close()


def test_eager_header_carries_payload(spinner, ros_context):
    source, stream, collector, fetcher = _pair(
        spinner, ros_context, StreamOptions(capacity_bytes=1 << 20, delivery=DeliveryMode.EAGER))
    stream.publish({'speed': 1.5})
    assert wait_for(lambda: collector.headers, 5.0)
    result = fetcher.fetch(collector.headers[0])
    assert result.ok and result.path == 'inline'
    assert result.value() == {'speed': 1.5}
    assert source.fetch_requests == 0
    source.close()


def test_dead_source_times_out_without_hanging(spinner, ros_context):
    source, stream, collector, fetcher = _pair(
        spinner, ros_context, StreamOptions(capacity_bytes=1 << 20, use_shm=False))
    stream.publish(b'abc')
    assert wait_for(lambda: collector.headers, 5.0)
    header = collector.headers[0]
    header.fetch_service = '/nobody/fetch'
    result = fetcher.fetch(header)
    assert result.status is FetchStatus.UNREACHABLE
    assert '/nobody/fetch' in result.reason
    source.close()


def test_batch_fetch_uses_one_request_and_reports_each_status(spinner, ros_context):
    source, stream, collector, fetcher = _pair(
        spinner, ros_context, StreamOptions(capacity_bytes=4096, use_shm=False),
        use_shm_client=False)
    for i in range(6):
        stream.publish(bytes([i]) * 1000)  # 4 KiB budget: the first ones get evicted
    assert wait_for(lambda: len(collector.headers) == 6, 5.0)
    futures = fetcher.fetch_many_async(collector.headers)
    assert wait_for(lambda: all(f.done() for f in futures), 5.0)
    results = [f.result() for f in futures]
    assert source.fetch_requests == 1
    assert results[0].status is FetchStatus.EXPIRED
    assert results[-1].ok and results[-1].data == bytes([5]) * 1000
    assert [r.header.seq for r in results] == list(range(6))
    source.close()


def test_auto_sends_inline_up_to_the_service_threshold_once_a_consumer_needs_the_service(
        spinner, ros_context):
    options = StreamOptions(capacity_bytes=8 << 20, delivery=DeliveryMode.AUTO,
                            auto_threshold=64 * 1024, auto_service_threshold=512 * 1024)
    source, stream, collector, fetcher = _pair(spinner, ros_context, options,
                                               use_shm_client=False)
    payload = np.zeros(256 * 1024, dtype=np.uint8)
    stream.publish(payload)
    assert wait_for(lambda: len(collector.headers) == 1, 5.0)
    first = collector.headers[0]
    if first.shm_name:  # same-host readers take the ring: 256 KB goes lazy
        assert first.delivery != PayloadHeader.DELIVERY_EAGER
        result = fetcher.fetch(first)  # this consumer cannot map the ring: service
        assert result.ok and result.path == 'service'
    stream.publish(payload)
    assert wait_for(lambda: len(collector.headers) == 2, 5.0)
    second = collector.headers[1]
    assert second.delivery == PayloadHeader.DELIVERY_EAGER  # now up to 512 KB inline
    assert len(second.inline_payload) == second.size == first.size
    stream.publish(np.zeros(1 << 20, dtype=np.uint8))  # above both thresholds: lazy
    assert wait_for(lambda: len(collector.headers) == 3, 5.0)
    assert collector.headers[2].delivery != PayloadHeader.DELIVERY_EAGER
    source.close()


def test_header_lifespan_is_what_the_header_writer_offers_over_dds(spinner, ros_context):
    """
    ``header_lifespan`` becomes the DDS lifespan of the header writer, as the graph sees it.

    After a link outage a reliable writer re-sends its history ahead of the newest header;
    with a lifespan the stale ones are gone from it (measured by bench/host_cutoff.py over
    network namespaces: recovery 2.3 -> 1.7 periods). Fast DDS expires samples in the
    writer's history, not in a reader's queue, so this checks the offered QoS.
    """
    node = spinner.add(Node('src', context=ros_context))
    source = PayloadSource(node)
    source.add_stream('short', StreamOptions(capacity_bytes=1 << 20, use_shm=False,
                                             header_lifespan=0.25))
    source.add_stream('keep', StreamOptions(capacity_bytes=1 << 20, use_shm=False))

    def offered(topic):
        infos = node.get_publishers_info_by_topic(topic)
        return infos[0].qos_profile.lifespan.nanoseconds if infos else None
    assert wait_for(lambda: offered('/short') is not None, 5.0)
    assert offered('/short') == 250_000_000
    assert offered('/keep') > 10**15  # unbounded ("infinite" duration)
    source.close()

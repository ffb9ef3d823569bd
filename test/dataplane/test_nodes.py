"""source_node and consumer_node: down-sampling, eviction under a budget, bad parameters."""

import os
import subprocess
import sys
import time

from conftest import wait_for
import pytest
from rclpy.node import Node
from ros_probes import params

from edgeserve_ros.dataplane.consumer_node import ConsumerNode
from edgeserve_ros.dataplane.fetcher import PayloadFetcher
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.dataplane.status import FetchStatus
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS

pytestmark = pytest.mark.ros


def test_downsampling_consumer_fetches_only_what_it_uses(spinner, ros_context):
    src = spinner.add(Node('src', context=ros_context))
    source = PayloadSource(src)
    stream = source.add_stream('/cam', StreamOptions(capacity_bytes=8 << 20, use_shm=False))
    consumer = spinner.add(ConsumerNode(context=ros_context, parameter_overrides=params(
        streams=['/cam'], every_k=5, use_shm=False)))
    assert wait_for(lambda: src.count_subscribers('/cam') == 1, 5.0)
    for _ in range(20):
        stream.publish(b'p' * 50_000)
    assert wait_for(lambda: consumer.tracker.examples == 4, 10.0)
    assert wait_for(lambda: consumer.skipped == 16, 5.0)
    assert source.fetch_requests == 4
    assert consumer.fetcher.bytes_fetched == 4 * 50_000
    source.close()


def test_eviction_under_byte_budget(spinner, ros_context):
    src = spinner.add(Node('src', context=ros_context))
    dst = spinner.add(Node('dst', context=ros_context))
    source = PayloadSource(src)
    stream = source.add_stream('/big', StreamOptions(capacity_bytes=1 << 20, use_shm=False))
    headers = []
    dst.create_subscription(PayloadHeader, '/big', headers.append, HEADER_QOS)
    fetcher = PayloadFetcher(dst, timeout=1.0)
    assert wait_for(lambda: src.count_subscribers('/big') == 1, 5.0)
    for _ in range(30):
        stream.publish(b'e' * 100_000)
        assert stream.ring.stats.stored_bytes <= stream.ring.capacity
    assert wait_for(lambda: len(headers) == 30, 5.0)
    assert stream.ring.stats.evicted >= 20 and len(stream.ring) <= 10
    first, last = fetcher.fetch(headers[0]), fetcher.fetch(headers[-1])
    assert first.status is FetchStatus.EXPIRED
    assert last.ok and len(last.data) == 100_000
    source.close()


def test_bad_parameters_are_refused_with_the_key_named(ros_context):
    from edgeserve_ros.ros.params import ParameterError
    with pytest.raises(ParameterError, match='every_k'):
        ConsumerNode(context=ros_context, parameter_overrides=params(every_k=0))
    with pytest.raises(ParameterError, match='unknown parameter.*evry_k'):
        ConsumerNode(context=ros_context, parameter_overrides=params(evry_k=2))


def _rss_mb(pid: int) -> float:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise AssertionError('no VmRSS')


def test_source_process_memory_stays_bounded(domain_id):
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    proc = subprocess.Popen([sys.executable, '-m', 'edgeserve_ros.dataplane.source_node',
                             '--ros-args', '-p', 'payload_bytes:=1000000', '-p', 'rate_hz:=200',
                             '-p', 'capacity_bytes:=16000000', '-p', 'count:=600'], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: proc.poll() is not None or _rss_mb(proc.pid) > 30, 20.0)
        early = _rss_mb(proc.pid)
        peak = early
        deadline = time.monotonic() + 8.0  # 600 MB of payloads go through a 16 MB ring
        while time.monotonic() < deadline and proc.poll() is None:
            peak = max(peak, _rss_mb(proc.pid))
            time.sleep(0.1)
        assert peak - early < 64, f'RSS grew from {early:.0f} to {peak:.0f} MB'
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

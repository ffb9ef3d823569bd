"""A workload source keeps serving lazy fetches after it finished playing, until the TTL."""

import time

from conftest import wait_for
import pytest
from rclpy.node import Node

from std_msgs.msg import Header

from edgeserve_ros.dataplane.fetcher import PayloadFetcher
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS, START_QOS
from edgeserve_ros.ros.timeconv import from_sec

pytestmark = pytest.mark.ros

TTL = 4.0


def test_payloads_stay_fetchable_until_they_expire(spinner, ros_context, procs):
    node = spinner.add(Node('consumer', context=ros_context))
    headers = []
    node.create_subscription(PayloadHeader, '/qr/cam', headers.append, HEADER_QOS)
    fetcher = PayloadFetcher(node, timeout=2.0, retries=1, use_shm=False)
    start = node.create_publisher(Header, '/qr/start', START_QOS)
    proc = procs.start('edgeserve_ros.workloads.source_node', 'cam', workload='qr', part=0,
                       stream='/qr/cam', count=3, delivery='lazy', ttl=TTL, use_shm=False,
                       labels_topic='', start_topic='/qr/start')
    # headers are volatile: the source plays only once it is connected to this consumer
    assert wait_for(lambda: node.count_publishers('/qr/cam') == 1, 30.0), procs.log('cam')
    assert wait_for(lambda: start.get_subscription_count() == 1, 30.0)  # no late start
    start.publish(Header(stamp=from_sec(time.time() + 0.5)))
    assert wait_for(lambda: len(headers) == 3, 30.0), procs.log('cam')
    finished = time.monotonic()
    # a slow link: the consumer asks only after the source has finished playing
    assert wait_for(lambda: time.monotonic() - finished > TTL / 2, TTL)
    assert proc.poll() is None, 'the source exited while its payloads were still fetchable'
    result = fetcher.fetch(headers[-1])
    assert result.ok, result.reason
    assert result.value().shape == (1080, 1920)
    # nothing is left to serve once the TTL has passed: the process ends by itself
    assert wait_for(lambda: proc.poll() is not None, TTL + 10.0)
    assert proc.returncode == 0, procs.log('cam')
    fetcher.close()

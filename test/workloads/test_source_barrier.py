"""A workload source reports in its account when its header writer matched its subscribers."""

import json
import time

from conftest import wait_for
import pytest
from rclpy.node import Node
from std_msgs.msg import Header, String

from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.account import ACCOUNT_TOPIC
from edgeserve_ros.ros.qos import ACCOUNT_READER_QOS, HEADER_QOS, START_QOS
from edgeserve_ros.ros.timeconv import from_sec

pytestmark = pytest.mark.ros


def test_source_is_ready_only_once_its_writer_matched(spinner, ros_context, procs):
    node = spinner.add(Node('launcher', context=ros_context))
    ready = []
    node.create_subscription(String, ACCOUNT_TOPIC, lambda m: ready.append(
        json.loads(m.data)['counts']['ready']), ACCOUNT_READER_QOS)
    start = node.create_publisher(Header, '/nids/start', START_QOS)
    procs.start('edgeserve_ros.workloads.source_node', 'flows', workload='nids', part=0,
                stream='/nids/flows', count=5, labels_topic='', start_topic='/nids/start',
                wait_subscribers=1, use_shm=False)
    assert wait_for(lambda: ready, 30.0), procs.log('flows')
    assert ready[-1] == 0  # no subscriber yet: the barrier must hold the start back
    headers = []
    node.create_subscription(PayloadHeader, '/nids/flows', headers.append, HEADER_QOS)
    assert wait_for(lambda: ready and ready[-1] == 1, 30.0), procs.log('flows')
    # the monitor's barrier gives the start only now: every header reaches this reader
    assert wait_for(lambda: start.get_subscription_count() == 1, 30.0)  # no late start
    start.publish(Header(stamp=from_sec(time.time() + 0.2)))
    assert wait_for(lambda: len(headers) == 5, 30.0), procs.log('flows')
    assert [h.seq for h in headers] == sorted(h.seq for h in headers)

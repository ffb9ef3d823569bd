"""The payload log is MCAP in the ROS 2 profile: standard readers decode every message."""

import json
import os
import subprocess
import sys

from builtin_interfaces.msg import Time
import pytest
from rclpy.node import Node
from rclpy.serialization import deserialize_message

from edgeserve_ros.dataplane.checksum import checksum
from edgeserve_ros.dataplane.mcap_log import msgdef, PayloadLog
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.msg import Payload, PayloadHeader

pytestmark = pytest.mark.ros


def test_msgdef_carries_every_dependency():
    text = msgdef('edgeserve_ros/msg/PayloadHeader')
    assert text.startswith('# Light header of one payload')
    blocks = [line for line in text.splitlines() if line.startswith('MSG: ')]
    assert blocks == ['MSG: std_msgs/msg/Header', 'MSG: builtin_interfaces/msg/Time'], blocks


@pytest.fixture
def logged(spinner, ros_context, tmp_path):
    """Payloads of a sensor stream (lazy) and a prediction stream (JSON, inline), logged."""
    src = spinner.add(Node('src', context=ros_context))
    log = PayloadLog(str(tmp_path / 'payloads.mcap'), max_bytes=2500)
    source = PayloadSource(src)
    sensor = source.add_stream('/logged/sensor', StreamOptions(capacity_bytes=1 << 20, log=log))
    preds = source.add_stream('/logged/predictions', StreamOptions(
        capacity_bytes=1 << 20, log=log, delivery='eager'))
    headers = []
    for i in range(3):
        headers.append(sensor.publish(bytes([i]) * 1000, stamp_ns=(i + 1) * 1_000_000_000))
        headers.append(preds.publish({'label': f'class{i}', 'tick': i + 1},
                                     stamp_ns=(i + 1) * 1_000_000_000 + 5))
    log.close()
    source.close()
    return tmp_path / 'payloads.mcap', log, headers


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_ros2_reader_decodes_payloads_headers_and_predictions(logged):
    from mcap_ros2.reader import read_ros2_messages
    path, log, headers = logged
    got = [(m.channel.topic, m.schema.name, m.log_time_ns, m.ros_msg)
           for m in read_ros2_messages(str(path))]
    # the third sensor payload would exceed the byte bound: neither it nor its header is there
    assert log.dropped == 1 and log.logged == 5
    assert len(got) == 10
    payloads = [(t, m) for t, s, _, m in got if s == 'edgeserve_ros/msg/Payload']
    assert [(t, m.seq) for t, m in payloads] == [
        ('/logged/sensor/payload', 0), ('/logged/predictions/payload', 0),
        ('/logged/sensor/payload', 1), ('/logged/predictions/payload', 1),
        ('/logged/predictions/payload', 2)]
    sensor = [m for t, m in payloads if t == '/logged/sensor/payload']
    assert [bytes(m.data) for m in sensor] == [b'\0' * 1000, b'\1' * 1000]
    assert all(m.status == Payload.STATUS_OK
               and m.checksum == h.checksum == checksum(bytes(m.data))
               for m, h in zip(sensor, headers[0::2]))
    predictions = [m for t, m in payloads if t == '/logged/predictions/payload']
    assert [json.loads(bytes(m.data))['label'] for m in predictions] == [
        'class0', 'class1', 'class2']
    logged_headers = [(t, m) for t, s, _, m in got if s == 'edgeserve_ros/msg/PayloadHeader']
    assert [t for t, _ in logged_headers] == ['/logged/sensor', '/logged/predictions'] * 2 + [
        '/logged/predictions']
    first = logged_headers[0][1]
    assert (first.header.stamp.sec, first.content_type, first.size) == (
        1, headers[0].content_type, 1000)
    assert bytes(logged_headers[1][1].inline_payload) == bytes(headers[1].inline_payload)


def test_mcap_reader_with_the_ros2_decoder_matches_rclpy(logged):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    path, _, headers = logged
    with open(path, 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == 'ros2'
        decoded = list(reader.iter_decoded_messages())
    assert len(decoded) == 10
    assert {(s.encoding, c.message_encoding) for s, c, _, _ in decoded} == {('ros2msg', 'cdr')}
    # the CDR bytes are what rmw publishes: rclpy reads them back as the published header
    raw = [m.data for s, c, m, _ in decoded if c.topic == '/logged/sensor']
    back = deserialize_message(raw[0], PayloadHeader)
    assert back.send_stamp == Time()  # logged when built; the send time is set later
    back.send_stamp = headers[0].send_stamp
    assert back == headers[0]


def test_source_node_refuses_an_mcap_path_it_cannot_create(tmp_path, domain_id):
    path = tmp_path / 'missing' / 'log.mcap'
    out = subprocess.run([sys.executable, '-m', 'edgeserve_ros.dataplane.source_node',
                          '--ros-args', '-p', f'mcap_path:={path}'], capture_output=True,
                         text=True, timeout=60,
                         env=dict(os.environ, ROS_DOMAIN_ID=str(domain_id)))
    assert out.returncode == 2, out.stderr
    assert 'mcap_path' in out.stderr and str(path) in out.stderr, out.stderr
    assert 'Traceback' not in out.stderr

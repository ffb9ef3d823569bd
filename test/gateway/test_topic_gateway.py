"""An existing sensor_msgs/Image topic (a camera driver) becomes a lazy stream."""

from conftest import wait_for
import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from ros_probes import params
from sensor_msgs.msg import Image
from std_msgs.msg import String

from edgeserve_ros.dataplane.fetcher import PayloadFetcher
from edgeserve_ros.dataplane.images import array_to_image, image_to_array
from edgeserve_ros.gateway.topic_gateway_node import TopicGatewayNode
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS

pytestmark = pytest.mark.ros


def _gateway(ros_context, **values):
    return TopicGatewayNode(context=ros_context, parameter_overrides=params(**values))


def test_camera_images_become_a_lazy_stream(spinner, ros_context):
    camera = spinner.add(Node('camera', context=ros_context))
    pub = camera.create_publisher(Image, '/camera/image_raw', qos_profile_sensor_data)
    spinner.add(_gateway(ros_context, input_topic='/camera/image_raw',
                         output_stream='/camera/lazy'))
    user = spinner.add(Node('user', context=ros_context))
    headers = []
    user.create_subscription(PayloadHeader, '/camera/lazy', headers.append, HEADER_QOS)
    fetcher = PayloadFetcher(user)
    frame = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    msg = array_to_image(frame, 'bgr8', Image())
    msg.header.stamp.sec = 42
    assert wait_for(lambda: pub.get_subscription_count() == 1, 5.0)
    assert wait_for(lambda: (pub.publish(msg), bool(headers))[1], 10.0, interval=0.2)
    header = headers[0]
    assert header.encoding == 'bgr8' and header.height == 48 and header.header.stamp.sec == 42
    result = fetcher.fetch(header)
    assert result.ok
    np.testing.assert_array_equal(result.value(), frame)
    np.testing.assert_array_equal(image_to_array(msg), frame)


def test_any_message_type_travels_as_cdr(spinner, ros_context):
    talker = spinner.add(Node('talker', context=ros_context))
    pub = talker.create_publisher(String, '/chatter', HEADER_QOS)
    spinner.add(_gateway(ros_context, input_topic='/chatter', input_qos='reliable',
                         input_type='std_msgs/msg/String', output_stream='/chatter/lazy'))
    user = spinner.add(Node('user', context=ros_context))
    headers = []
    user.create_subscription(PayloadHeader, '/chatter/lazy', headers.append, HEADER_QOS)
    fetcher = PayloadFetcher(user)
    assert wait_for(lambda: (pub.publish(String(data='hello')), bool(headers))[1], 10.0,
                    interval=0.2)
    assert fetcher.fetch(headers[0]).message(String).data == 'hello'


def test_unknown_message_type_is_an_error(ros_context):
    from edgeserve_ros.ros.params import ParameterError
    with pytest.raises(ParameterError, match='nonexistent_pkg'):
        _gateway(ros_context, input_type='nonexistent_pkg/msg/Foo')

"""
``topic_gateway_node``: turn an existing ROS topic into a lazy stream.

Any topic (e.g. a camera driver's ``sensor_msgs/Image``) gets light headers over DDS while
its payloads wait at this node until fetched.

Images become ``image/raw`` payloads (rows as sent, with encoding, step and byte order in
the header); any other message type is stored as its CDR serialization.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import serialize_message

from edgeserve_ros.dataplane import codec
from edgeserve_ros.dataplane.images import encode_image
from edgeserve_ros.dataplane.ring import PayloadTooLarge
from edgeserve_ros.dataplane.source import PayloadSource
from edgeserve_ros.dataplane.stream_params import STREAM_PARAMS, stream_options
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.ros.params import (import_message_type, ParamSpec,
                                      declare_parameters)
from edgeserve_ros.ros.qos import HEADER_QOS

PARAMS = STREAM_PARAMS + [
    ParamSpec('input_topic', 'image_raw', 'Existing topic to expose as a lazy stream.',
              kind='topic'),
    ParamSpec('input_type', 'sensor_msgs/msg/Image', 'Message type of input_topic.',
              kind='message_type'),
    ParamSpec('input_qos', 'sensor_data', 'QoS of the input subscription.',
              choices=('sensor_data', 'reliable')),
    ParamSpec('output_stream', 'image_raw/lazy', 'Header topic of the lazy stream.', kind='topic'),
]


class TopicGatewayNode(Node):
    """Subscribes to ``input_topic`` and republishes every message as a lazy stream item."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('topic_gateway_node', **kwargs)
        p = declare_parameters(self, PARAMS)
        self.msg_type = import_message_type(p['input_type'])
        self.is_image = p['input_type'].replace('/msg/', '/') == 'sensor_msgs/Image'
        self.type_name = p['input_type']
        self.source = PayloadSource(self)
        self.stream = self.source.add_stream(p['output_stream'], stream_options(p))
        qos = qos_profile_sensor_data if p['input_qos'] == 'sensor_data' else HEADER_QOS
        self.create_subscription(self.msg_type, p['input_topic'], self._on_message, qos)
        self.dropped = 0
        self.get_logger().info(f'{p["input_topic"]} ({p["input_type"]}) -> lazy stream '
                               f'{self.stream.name}')

    def _on_message(self, msg: Any) -> None:
        if self.is_image:
            value = encode_image(msg)
        else:
            value = codec.Encoded([serialize_message(msg)], codec.CDR, encoding=self.type_name)
        stamp = getattr(getattr(msg, 'header', None), 'stamp', None)
        stamp_ns = stamp.sec * 1_000_000_000 + stamp.nanosec if stamp is not None else None
        frame = getattr(getattr(msg, 'header', None), 'frame_id', '')
        try:
            self.stream.publish(value, stamp_ns=stamp_ns or None, frame_id=frame)
        except (codec.PayloadError, PayloadTooLarge) as exc:
            self.dropped += 1
            self.get_logger().error(f'{self.stream.name}: message dropped ({self.dropped} so '
                                    f'far): {exc}')

    def destroy_node(self) -> None:
        """Release the payload ring, then the node."""
        self.source.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until shutdown; exit 2 on invalid parameters."""
    return run_node(TopicGatewayNode, 'topic_gateway_node', args)


if __name__ == '__main__':
    sys.exit(main())

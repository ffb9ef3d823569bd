"""A message_filters user's code: pair each camera image with its camera info (stock)."""

from message_filters import Subscriber
from message_filters import ApproximateTimeSynchronizer
from sensor_msgs.msg import CameraInfo, Image


def attach(node, on_pair):
    """Subscribe to ``image`` and ``camera_info``; call ``on_pair(image, info)`` per set."""
    image_sub = Subscriber(node, Image, 'image')
    info_sub = Subscriber(node, CameraInfo, 'camera_info')
    sync = ApproximateTimeSynchronizer([image_sub, info_sub], 10, 0.02)
    sync.registerCallback(on_pair)
    return sync

"""
Publishing a node's item counters for the run's account (see ``topology.account``).

Each node publishes ``{"node", "role", "counts"}`` as a ``std_msgs/String`` JSON on
:data:`ACCOUNT_TOPIC` when its counters change (at most every ``period``) and once more on
:meth:`AccountPublisher.flush`; the topic is latched, so a monitor that joins late still
gets every node's newest account (``ros2 topic echo /edgeserve/account``).
"""

from __future__ import annotations

import json
from typing import Callable, Mapping

from rclpy.node import Node
from std_msgs.msg import String

from edgeserve_ros.ros.qos import ACCOUNT_QOS

ACCOUNT_TOPIC = '/edgeserve/account'


class AccountPublisher:
    """
    Publishes ``counts()`` of ``node`` under ``role`` (source, model, queue, ...).

    :param counts: returns the node's counters (ints)
    :param period: seconds between checks for a change
    """

    def __init__(self, node: Node, role: str, counts: Callable[[], Mapping[str, int]],
                 period: float = 0.5) -> None:
        self._node, self._role, self._counts = node, role, counts
        self._pub = node.create_publisher(String, ACCOUNT_TOPIC, ACCOUNT_QOS)
        self._last = ''
        node.create_timer(period, self.flush)

    def flush(self) -> None:
        """Publish the counters now if they changed since the last message."""
        text = json.dumps({'node': self._node.get_fully_qualified_name(), 'role': self._role,
                           'counts': dict(self._counts())}, sort_keys=True)
        if text != self._last:
            self._last = text
            self._pub.publish(String(data=text))

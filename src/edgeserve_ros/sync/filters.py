"""
Minimal ``message_filters``-style filters, for hosts without ``message_filters``.

:class:`Subscriber` takes the same constructor arguments as ``message_filters.Subscriber``
(``node, msg_type, topic, qos_profile=...``) and offers the same filter interface:
``registerCallback(cb, *args)`` -- ``cb(msg, *args)`` is called for every message --
plus ``node``, ``topic`` and ``getTopic()``. Either class can feed
:class:`~edgeserve_ros.sync.approximate.TimelySynchronizer`.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Tuple

from rclpy.node import Node


class SimpleFilter:
    """A filter that passes messages on to its registered callbacks."""

    def __init__(self) -> None:
        self.callbacks: Dict[int, Tuple[Callable[..., Any], Tuple[Any, ...]]] = {}
        self._next = 0
        self._lock = threading.Lock()

    def registerCallback(self, cb: Callable[..., Any], *args: Any) -> int:  # noqa: N802
        """Call ``cb(*messages, *args)`` on output; return the connection id."""
        with self._lock:
            conn, self._next = self._next, self._next + 1
            self.callbacks[conn] = (cb, args)
        return conn

    def unregisterCallback(self, conn: int) -> None:  # noqa: N802
        """Remove the callback registered as ``conn`` (no error if it is gone)."""
        with self._lock:
            self.callbacks.pop(conn, None)

    def signalMessage(self, *msg: Any) -> None:  # noqa: N802
        """Pass ``msg`` to every registered callback."""
        with self._lock:
            callbacks = list(self.callbacks.values())
        for cb, args in callbacks:
            cb(*(msg + args))


class Subscriber(SimpleFilter):
    """
    A source filter around one ROS subscription.

    :param node: the node that owns the subscription (also ``self.node``).
    :param msg_type: message class.
    :param topic: topic name.
    :param qos_profile: QoS profile or history depth (default 10, as message_filters).
    :param kwargs: passed on to ``node.create_subscription`` (e.g. ``callback_group``).
    """

    def __init__(self, node: Node, msg_type: Any, topic: str, qos_profile: Any = 10,
                 **kwargs: Any) -> None:
        super().__init__()
        self.node = node
        self.topic = topic
        self.msg_type = msg_type
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile,
                                            **kwargs)

    def callback(self, msg: Any) -> None:
        """Receive one message from the subscription."""
        self.signalMessage(msg)

    def getTopic(self) -> str:  # noqa: N802
        """Return the topic name."""
        return self.topic

    def close(self) -> None:
        """Destroy the subscription."""
        self.node.destroy_subscription(self.sub)

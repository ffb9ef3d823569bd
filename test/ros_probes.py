"""Shared test helpers: parameter overrides, a slow model file, a JSON stream recorder."""

import json
import threading
import time
from typing import Any, List

from rclpy.node import Node
from rclpy.parameter import Parameter

from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS


def params(**values):
    """Return rclpy parameter overrides from keyword arguments."""
    return [Parameter(k, value=v) for k, v in values.items()]


def model_file(tmp_path, delay_ms, name='slow'):
    """Write a models YAML with one fixed_delay function model; return its path."""
    path = tmp_path / f'{name}.yaml'
    path.write_text(
        'models:\n'
        f'  - {{name: {name}, kind: function, target: edgeserve_ros.models.zoo.fixed_delay,\n'
        f'     params: {{delay_ms: {delay_ms}, n_classes: 5}}, inputs: [x], fill: zeros}}\n')
    return str(path)


class JsonStream:
    """Records the JSON items of a stream (inline payloads) with their stamp and arrival."""

    def __init__(self, node: Node, topic: str = '/predictions') -> None:
        self.items: List[Any] = []
        self.stamps: List[float] = []
        self.arrivals: List[float] = []
        self.lock = threading.Lock()
        node.create_subscription(PayloadHeader, topic, self._on, HEADER_QOS)

    def _on(self, msg: PayloadHeader) -> None:
        assert msg.delivery == PayloadHeader.DELIVERY_EAGER, 'JSON streams travel inline'
        with self.lock:
            self.items.append(json.loads(bytes(msg.inline_payload)))
            self.stamps.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
            self.arrivals.append(time.time())

    def __len__(self) -> int:
        with self.lock:
            return len(self.items)

    def seqs(self, stream: str = '/x'):
        """Return the input seq of each prediction, in arrival order."""
        with self.lock:
            return [p['inputs'][stream]['seq'] for p in self.items]

    def workers(self):
        """Return the worker of each prediction, in arrival order."""
        with self.lock:
            return [p['worker'] for p in self.items]

    def issued(self):
        """Return ``(arrival time, label)`` per item (predictions, for real-time accuracy)."""
        with self.lock:
            return [(t, item['label']) for t, item in zip(self.arrivals, self.items)]

    def stamped(self):
        """Return ``(stamp, label)`` per item (the ground-truth label stream)."""
        with self.lock:
            return [(t, item['label']) for t, item in zip(self.stamps, self.items)]

"""Helpers for the shared_queue node tests: model files, parameters, prediction probes."""

import json
import threading
import time

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


class Predictions:
    """Records the JSON predictions of a prediction stream (inline payloads)."""

    def __init__(self, node: Node, topic: str = '/predictions') -> None:
        self.items = []
        self.stamps = []
        self.lock = threading.Lock()
        node.create_subscription(PayloadHeader, topic, self._on, HEADER_QOS)

    def _on(self, msg: PayloadHeader) -> None:
        assert msg.delivery == PayloadHeader.DELIVERY_EAGER, 'predictions travel inline'
        with self.lock:
            self.items.append(json.loads(bytes(msg.inline_payload)))
            self.stamps.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)

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


def stamp_ns(index: int) -> int:
    """Return a distinct, recent stamp for item ``index`` (ns)."""
    return time.time_ns() // 1_000_000_000 * 1_000_000_000 + index * 1_000_000

"""model_node with max_pending: a slow model predicts on the newest input and skips the rest."""

import json
import threading

from conftest import wait_for
import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.models.model_node import ModelNode
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS

pytestmark = pytest.mark.ros

ITEMS = 40


def _model_file(tmp_path):
    path = tmp_path / 'slow.yaml'
    path.write_text('models:\n  - {name: slow, kind: function, target: '
                    'edgeserve_ros.models.zoo.fixed_delay, params: {delay_ms: 100, '
                    'n_classes: 5}, inputs: [x], fill: zeros}\n')
    return str(path)


class _Seqs:
    """Records the input seq of every prediction (JSON predictions travel inline)."""

    def __init__(self, node: Node) -> None:
        self.seqs = []
        self.lock = threading.Lock()
        node.create_subscription(PayloadHeader, '/predictions', self._on, HEADER_QOS)

    def _on(self, msg: PayloadHeader) -> None:
        with self.lock:
            self.seqs.append(json.loads(bytes(msg.inline_payload))['inputs']['/x']['seq'])


@pytest.mark.parametrize('max_pending', [0, 1])
def test_slow_model_skips_to_the_newest_input(spinner, ros_context, tmp_path, max_pending):
    node = spinner.add(ModelNode(context=ros_context, parameter_overrides=[
        Parameter('model_file', value=_model_file(tmp_path)), Parameter('input', value='/x'),
        Parameter('input_kind', value='stream'), Parameter('max_pending', value=max_pending)]))
    out = _Seqs(spinner.add(Node('probe', context=ros_context)))
    src = spinner.add(Node('src', context=ros_context))
    source = PayloadSource(src)
    stream = source.add_stream('/x', StreamOptions(capacity_bytes=1 << 20, use_shm=False))
    assert wait_for(lambda: src.count_subscribers('/x') == 1, 10.0)
    for _ in range(ITEMS):  # 40 inputs at once for a 100 ms model
        stream.publish(np.ones(4, dtype=np.float32))
    last = ITEMS - 1
    assert wait_for(lambda: last in out.seqs, 30.0), (node.counts, out.seqs)
    with out.lock:
        seqs = list(out.seqs)
    print(f'\nmax_pending {max_pending}: predicted seqs {seqs}, skipped '
          f'{node.admission.skipped}, fetched {source.fetch_requests}')
    assert seqs == sorted(seqs) and node.counts['fetch_failed'] == 0
    if max_pending:
        # the first input, then only the newest waiting one each time the model is free
        assert seqs[0] == 0 and len(seqs) < ITEMS // 2
        assert node.admission.skipped == ITEMS - len(seqs)
        assert source.fetch_requests == len(seqs)  # skipped inputs were never fetched
    else:
        assert seqs == list(range(ITEMS)) and node.admission.skipped == 0
    source.close()

"""model_node with max_pending: a slow model predicts on the newest input and skips the rest."""

from conftest import wait_for
import numpy as np
import pytest
from rclpy.node import Node
from ros_probes import JsonStream, model_file, params

from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.models.model_node import ModelNode

pytestmark = pytest.mark.ros

ITEMS = 40


@pytest.mark.parametrize('max_pending', [0, 1])
def test_slow_model_skips_to_the_newest_input(spinner, ros_context, tmp_path, max_pending):
    node = spinner.add(ModelNode(context=ros_context, parameter_overrides=params(
        model_file=model_file(tmp_path, 100), input='/x', input_kind='stream',
        max_pending=max_pending)))
    out = JsonStream(spinner.add(Node('probe', context=ros_context)))
    src = spinner.add(Node('src', context=ros_context))
    source = PayloadSource(src)
    stream = source.add_stream('/x', StreamOptions(capacity_bytes=1 << 20, use_shm=False))
    assert wait_for(lambda: src.count_subscribers('/x') == 1, 10.0)
    for _ in range(ITEMS):  # 40 inputs at once for a 100 ms model
        stream.publish(np.ones(4, dtype=np.float32))
    last = ITEMS - 1
    assert wait_for(lambda: last in out.seqs(), 30.0), (node.counts, out.seqs())
    seqs = out.seqs()
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

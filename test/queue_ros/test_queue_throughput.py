"""Four queue workers share a burst: each item once, all workers busy at once.

The speed-up itself is a benchmark (bench/parallel_speedup.py), not a test.
"""

from conftest import wait_for
import numpy as np
import pytest
from rclpy.node import Node
from ros_probes import JsonStream, model_file, params

from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.models.queue_worker import QueueWorker
from edgeserve_ros.models.shared_queue_node import SharedQueueNode

pytestmark = [pytest.mark.ros, pytest.mark.slow]

ITEMS = 80


def test_four_workers_share_a_burst_in_parallel(spinner, ros_context, tmp_path):
    ctx, path = ros_context, model_file(tmp_path, 50)
    src = spinner.add(Node('src', context=ctx))
    source = PayloadSource(src)
    stream = source.add_stream('/x', StreamOptions(
        capacity_bytes=4 << 20, use_shm=False, delivery=DeliveryMode.AUTO))
    queue = spinner.add(SharedQueueNode(context=ctx, parameter_overrides=params(
        input='/x', input_kind='stream', output_stream='/predictions')))
    for i in range(4):
        spinner.add(QueueWorker(context=ctx, parameter_overrides=params(
            queue='shared_queue', model_file=path, max_items=1, prefetch=1),
            cli_args=['--ros-args', '-r', f'__node:=w{i}']))
    out = JsonStream(spinner.add(Node('probe', context=ctx)), '/predictions')
    assert wait_for(lambda: src.count_subscribers('/x') == 1, 10.0)
    assert wait_for(lambda: queue.queue.workers_seen() == 4, 30.0), queue.stats()
    for i in range(ITEMS):
        stream.publish(np.full(4, i, np.float32))
    leased = []
    assert wait_for(lambda: leased.append(queue.queue.leased_count()) or len(out) >= ITEMS,
                    60.0, 0.002), queue.stats()
    assert sorted(out.seqs('/x')) == list(range(ITEMS))  # each item once
    assert len(set(out.workers())) == 4
    assert max(leased) >= 2, 'the workers never held items at the same time'
    source.close()

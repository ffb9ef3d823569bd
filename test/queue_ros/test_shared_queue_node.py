"""shared_queue node + queue_worker nodes: exactly-once, re-send after kill/stall, affinity."""

from collections import Counter, defaultdict
import os
import signal
import subprocess
import sys
import time

from conftest import wait_for
import numpy as np
import pytest
from rclpy.node import Node
from ros_probes import JsonStream, model_file, params

from edgeserve_ros.dataplane.codec import encode
from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.models.queue_worker import QueueWorker
from edgeserve_ros.models.shared_queue_node import SharedQueueNode
from edgeserve_ros.msg import PayloadHeader, SyncedTuple, SyncMember
from edgeserve_ros.ros.params import ParameterError
from edgeserve_ros.ros.qos import HEADER_QOS
from edgeserve_ros.ros.timeconv import from_ns, to_sec

pytestmark = pytest.mark.ros

LAZY = StreamOptions(capacity_bytes=4 << 20, use_shm=False)
AUTO = StreamOptions(capacity_bytes=4 << 20, use_shm=False, delivery=DeliveryMode.AUTO)


def _queue(ctx, **overrides):
    base = dict(input='/x', input_kind='stream', lease_timeout=1.0, output_stream='/predictions',
                stats_period=0.5)
    base.update(overrides)
    return SharedQueueNode(context=ctx, parameter_overrides=params(**base))


def _worker(ctx, name, path, **overrides):
    base = dict(queue='shared_queue', model_file=path, max_items=2, idle_backoff=0.005)
    base.update(overrides)
    return QueueWorker(context=ctx, parameter_overrides=params(**base),
                       cli_args=['--ros-args', '-r', f'__node:={name}'])


def _source(spinner, ctx, options=LAZY, topic='/x'):
    node = spinner.add(Node('src', context=ctx))
    source = PayloadSource(node)
    return node, source, source.add_stream(topic, options)


def _exactly_once(out, count):
    seqs = out.seqs()
    assert sorted(seqs) == list(range(count)), Counter(s for s in seqs if seqs.count(s) > 1)


def _settled(queue):
    """Wait until every item is completed: a result arriving later is a duplicate, dropped."""
    assert wait_for(lambda: queue.queue.queued_count() == 0 and queue.queue.leased_count() == 0,
                    15.0), queue.stats()


def test_three_workers_each_prediction_once_spread_over_workers(spinner, ros_context, tmp_path):
    src, source, stream = _source(spinner, ros_context)
    queue = spinner.add(_queue(ros_context))
    path = model_file(tmp_path, 20)
    for i in range(3):
        spinner.add(_worker(ros_context, f'w{i}', path))
    out = JsonStream(spinner.add(Node('probe', context=ros_context)))
    assert wait_for(lambda: src.count_subscribers('/x') == 1, 5.0)
    for i in range(60):
        stream.publish(np.full(4, i, np.float32))
        time.sleep(0.005)
    assert wait_for(lambda: len(out) >= 60, 15.0), queue.stats()
    _settled(queue)
    _exactly_once(out, 60)
    spread = Counter(out.workers())
    assert set(spread) == {'w0', 'w1', 'w2'} and min(spread.values()) >= 5, spread
    first = out.items[0]
    assert first['model'] == 'slow' and first['batch'] >= 1
    assert all(p['label'] == 4 * p['inputs']['/x']['seq'] % 5 for p in out.items)
    assert first['inputs']['/x']['state'] == 'fresh' and first['processing_s'] >= 0.02
    assert out.stamps[0] == pytest.approx(first['tick']) == pytest.approx(
        first['inputs']['/x']['stamp'])
    stats = queue.stats()
    assert stats['published'] == 60 and stats['duplicates'] == 0 and stats['dropped'] == 0
    assert source.fetch_requests >= 60  # lazy stream: workers fetched the payloads
    source.close()


def _spawn_worker(domain_id, name, path, **overrides):
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    args = dict(queue='shared_queue', model_file=path, **overrides)
    cmd = [sys.executable, '-m', 'edgeserve_ros.models.queue_worker', '--ros-args',
           '-r', f'__node:={name}']
    for key, value in args.items():
        cmd += ['-p', f'{key}:={value}']
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_killed_worker_loses_no_item(spinner, ros_context, domain_id, tmp_path):
    src, source, stream = _source(spinner, ros_context)
    queue = spinner.add(_queue(ros_context, lease_timeout=0.5))
    victim = _spawn_worker(domain_id, 'victim', model_file(tmp_path, 3000, 'stuck'),
                           max_items=4)
    try:
        assert wait_for(lambda: src.count_subscribers('/x') == 1, 5.0)
        for i in range(20):
            stream.publish(np.full(4, i, np.float32))
        assert wait_for(lambda: queue.queue.leased_count() == 4 or victim.poll() is not None,
                        30.0), queue.stats()
        assert victim.poll() is None, victim.communicate()[0]
        victim.send_signal(signal.SIGKILL)  # dies holding 4 leases
        victim.wait(5.0)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(5.0)
    out = JsonStream(spinner.add(Node('probe', context=ros_context)))
    spinner.add(_worker(ros_context, 'healthy', model_file(tmp_path, 20)))
    assert wait_for(lambda: len(out) >= 20, 15.0), queue.stats()
    _settled(queue)
    _exactly_once(out, 20)
    assert set(out.workers()) == {'healthy'}
    assert queue.stats()['resent'] >= 4
    source.close()


def test_stalled_worker_items_resent_late_results_dropped(spinner, ros_context, tmp_path):
    src, source, stream = _source(spinner, ros_context)
    queue = spinner.add(_queue(ros_context, lease_timeout=0.3))
    # max_delay: the worker keeps pulling until it holds all 3 (its first pull could come
    # between the publishes below and get 1: then 3 were never leased at once, beside burners)
    spinner.add(_worker(ros_context, 'slow', model_file(tmp_path, 1200, 'stall'), max_items=3,
                        max_delay=3.0))
    out = JsonStream(spinner.add(Node('probe', context=ros_context)))
    assert wait_for(lambda: src.count_subscribers('/x') == 1, 5.0)
    for i in range(3):
        stream.publish(np.full(4, i, np.float32))
    assert wait_for(lambda: queue.queue.leased_count() == 3, 5.0)
    spinner.add(_worker(ros_context, 'fast', model_file(tmp_path, 10)))
    for i in range(3, 12):
        stream.publish(np.full(4, i, np.float32))
    assert wait_for(lambda: len(out) >= 12 and queue.stats()['duplicates'] >= 1, 10.0), \
        queue.stats()
    _settled(queue)
    _exactly_once(out, 12)
    assert queue.stats()['resent'] >= 3
    source.close()


def test_pull_answers_carry_same_host_payloads_to_workers_elsewhere(spinner, ros_context,
                                                                    tmp_path):
    src, source, stream = _source(spinner, ros_context, StreamOptions(capacity_bytes=4 << 20))
    queue = spinner.add(_queue(ros_context))
    away = _worker(ros_context, 'away', model_file(tmp_path, 1), max_items=4)
    away.fetcher._host = 'another-host'  # as a worker in another network namespace
    spinner.add(away)
    out = JsonStream(spinner.add(Node('probe', context=ros_context)))
    assert wait_for(lambda: src.count_subscribers('/x') == 1, 5.0)

    def publish(first, count):
        for i in range(first, first + count):
            stream.publish(np.full(4, i, np.float32))
            time.sleep(0.005)
        assert wait_for(lambda: len(out) >= first + count, 15.0), queue.stats()

    publish(0, 20)  # the worker elsewhere alone: every payload inline
    here = spinner.add(_worker(ros_context, 'here', model_file(tmp_path, 1), max_items=4))
    assert wait_for(lambda: queue.queue.workers_seen() == 2, 10.0)
    publish(20, 20)  # and one on this host: it reads the ring, never gets payloads inline
    _settled(queue)
    _exactly_once(out, 40)
    assert all(p['label'] == 4 * p['inputs']['/x']['seq'] % 5 for p in out.items)
    paths = {name: Counter(key.split(':')[0] for key, n in w.fetcher.counts.items()
                           for _ in range(n)) for name, w in (('here', here), ('away', away))}
    got = Counter(out.workers())
    assert got['away'] >= 20 and paths['away'] == {'inline': got['away']}, (paths, got)
    assert set(paths['here']) <= {'shm'} and sum(paths['here'].values()) == got['here'], paths
    stats = queue.stats()
    assert stats['inlined'] == got['away'] and stats['over_budget'] == 0, stats
    assert stats['inline_bytes'] >= 16 * got['away'], stats  # 4 float32 (+ .npy header) each
    assert source.fetch_requests == 0  # every payload came inline or from the ring
    source.close()


def test_join_affinity_same_key_same_worker(spinner, ros_context, tmp_path):
    src, source, stream = _source(spinner, ros_context, AUTO)
    queue = spinner.add(_queue(ros_context))
    path = model_file(tmp_path, 20)
    for i in range(3):
        spinner.add(_worker(ros_context, f'w{i}', path, max_items=1))
    out = JsonStream(spinner.add(Node('probe', context=ros_context)))
    assert wait_for(lambda: src.count_subscribers('/x') == 1, 5.0)
    base = time.time_ns()
    for group in range(12):
        for _ in range(3):  # three items of one example share its stamp: one join key
            stream.publish(np.zeros(2, np.float32), stamp_ns=base + group * 1_000_000)
            time.sleep(0.004)
        time.sleep(0.01)
    assert wait_for(lambda: len(out) >= 36, 15.0), queue.stats()
    by_key = defaultdict(set)
    for p in out.items:
        by_key[p['tick']].add(p['worker'])
    assert len(by_key) == 12 and all(len(w) == 1 for w in by_key.values()), by_key
    assert len(set(out.workers())) >= 2
    _exactly_once(out, 36)
    source.close()


def test_tuple_input_fetches_members_and_reports_provenance(spinner, ros_context, tmp_path):
    src, source, stream = _source(spinner, ros_context, topic='/cam')
    queue = spinner.add(_queue(ros_context, input='/synced', input_kind='tuple'))
    spinner.add(_worker(ros_context, 'w0', model_file(tmp_path, 0)))
    out = JsonStream(spinner.add(Node('probe', context=ros_context)))
    pub = src.create_publisher(SyncedTuple, '/synced', HEADER_QOS)
    assert wait_for(lambda: src.count_subscribers('/synced') == 1, 5.0)
    cam = stream.publish(np.arange(3, dtype=np.float32))
    tick_ns = time.time_ns()
    msg = SyncedTuple(tick=7, payloads_fetched=False)
    msg.header.stamp = from_ns(tick_ns)
    imu = encode(np.ones(1, np.float32))
    imu_header = PayloadHeader(stream='/imu', seq=4, content_type=imu.content_type)
    imu_header.header.stamp = from_ns(tick_ns)
    msg.members = [
        SyncMember(stream='/cam', present=True, state=SyncMember.STATE_REUSED, seq=cam.seq,
                   stamp=cam.header.stamp, payload_header=cam),
        SyncMember(stream='/imu', present=True, state=SyncMember.STATE_FRESH, seq=4,
                   payload_header=imu_header, payload_fetched=True,
                   payload=b''.join(bytes(p) for p in imu.parts)),
        SyncMember(stream='/gone', present=False)]
    pub.publish(msg)
    assert wait_for(lambda: len(out) == 1, 10.0), queue.stats()
    pred = out.items[0]
    assert pred['tick'] == pytest.approx(tick_ns * 1e-9) and pred['worker'] == 'w0'
    assert pred['inputs']['/cam'] == dict(seq=cam.seq, stamp=to_sec(cam.header.stamp),
                                          state='reused')
    assert pred['inputs']['/imu']['state'] == 'fresh' and '/gone' not in pred['inputs']
    assert pred['label'] == 4  # fixed_delay: sum of [0, 1, 2] + [1] mod 5
    source.close()


def test_bad_parameters_name_the_key(ros_context, tmp_path):
    with pytest.raises(ParameterError, match='input_kind'):
        _queue(ros_context, input_kind='tuples')
    with pytest.raises(ParameterError, match='lease_timeout'):
        _queue(ros_context, lease_timeout=0.0)
    with pytest.raises(ParameterError, match='unknown parameter.*lease_timout'):
        _queue(ros_context, lease_timout=1.0)
    path = model_file(tmp_path, 0)
    with pytest.raises(ParameterError, match='max_items'):
        _worker(ros_context, 'w', path, max_items=0)
    with pytest.raises(ParameterError, match='idle_backoff'):
        _worker(ros_context, 'w', path, idle_backoff=-1.0)
    with pytest.raises(ParameterError, match='model_file'):
        _worker(ros_context, 'w', str(tmp_path / 'missing.yaml'))
    with pytest.raises(ParameterError, match="model='nope'"):
        _worker(ros_context, 'w', path, model='nope')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('models:\n  - {name: m, kind: tf, inputs: [x]}\n')
    with pytest.raises(ParameterError, match=r'model_file=.*models\[0\]\.kind'):
        _worker(ros_context, 'w', str(bad))


def test_queue_process_exits_2_on_bad_parameter(domain_id):
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    proc = subprocess.run([sys.executable, '-m', 'edgeserve_ros.models.shared_queue_node',
                           '--ros-args', '-p', 'capacity:=0'], env=env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2 and 'capacity' in proc.stderr + proc.stdout

"""TimelySynchronizer: the drop-in for ApproximateTimeSynchronizer, at the target rate."""

import threading
import time

from conftest import wait_for
import pytest
from rclpy.node import Node
from sensor_msgs.msg import Imu

from edgeserve_ros.sync.approximate import Provenance, TimelySynchronizer
from edgeserve_ros.sync.filters import Subscriber

pytestmark = pytest.mark.ros


def _publisher(node, topic, rate):
    pub = node.create_publisher(Imu, topic, 10)

    def tick():
        msg = Imu()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.header.frame_id = topic
        pub.publish(msg)

    node.create_timer(1.0 / rate, tick)
    return pub


def test_dropin_delivers_at_target_rate_beyond_slowest_stream(spinner, ros_context):
    pubs = spinner.add(Node('imu_pubs', context=ros_context))
    app = Node('app', context=ros_context)
    subs = [Subscriber(app, Imu, '/imu_fast', 10), Subscriber(app, Imu, '/imu_slow', 10)]
    sync = TimelySynchronizer(subs, 10, 0.03, period=0.05, max_age=2.0)
    got, plain, lock = [], [], threading.Lock()

    def on_tuple(fast, slow, tag, provenance=None):
        with lock:
            got.append((time.time(), fast, slow, tag, provenance))

    sync.registerCallback(on_tuple, 'x')
    sync.registerCallback(lambda *args: plain.append(args))
    spinner.add(app)
    _publisher(pubs, '/imu_fast', 50.0)
    _publisher(pubs, '/imu_slow', 2.0)  # ApproximateTime would be capped at 2 Hz
    assert wait_for(lambda: any(g[2] is not None for g in got), 10.0)
    begin = time.time()
    assert wait_for(lambda: any(g[4].emit_time >= begin + 1.5 for g in got), 5.0)
    with lock:
        window = [g for g in got if begin <= g[4].emit_time < begin + 1.5]
    slow_states = [g[4].members[1].state for g in window]
    print(f'\ndrop-in: {len(window) / 1.5:.1f} Hz (target 20, slowest input 2 Hz), '
          f'skew max {max(g[4].skew for g in window) * 1e3:.1f} ms, slow states '
          f'{ {s: slow_states.count(s) for s in set(slow_states)} }')
    assert abs(len(window) - 30) <= 1
    for _, fast, slow, tag, prov in window:
        assert isinstance(prov, Provenance) and tag == 'x'
        assert isinstance(fast, Imu) and fast.header.frame_id == '/imu_fast'
        assert isinstance(slow, Imu) and slow.header.frame_id == '/imu_slow'
        assert prov.skew <= 0.03 + 1e-6
    assert slow_states.count('fresh') <= 4  # the 2 Hz input is upsampled (reused/imputed)
    assert plain and len(plain[0]) == 2  # no provenance for a callback that does not take it
    sync.close()


def test_dropin_estimates_the_period_from_the_fastest_input(spinner, ros_context):
    pubs = spinner.add(Node('imu_pubs', context=ros_context))
    app = Node('app', context=ros_context)
    subs = [Subscriber(app, Imu, '/imu_slow', 10), Subscriber(app, Imu, '/imu_fast', 10)]
    sync = TimelySynchronizer(subs, 10, 0.02)
    got = []
    sync.registerCallback(lambda *msgs, **kw: got.append(kw['provenance']))
    spinner.add(app)
    _publisher(pubs, '/imu_fast', 40.0)
    _publisher(pubs, '/imu_slow', 4.0)
    assert wait_for(lambda: len(got) >= 20, 10.0)
    assert sync.period == pytest.approx(0.025, abs=0.005)
    sync.close()


def test_dropin_rejects_bad_arguments(ros_context):
    node = Node('app', context=ros_context)
    subs = [Subscriber(node, Imu, '/a'), Subscriber(node, Imu, '/b')]
    with pytest.raises(ValueError, match='slop'):
        TimelySynchronizer(subs, 10, -1.0, period=0.1)
    with pytest.raises(ValueError, match='policy'):
        TimelySynchronizer(subs, 10, 0.1, period=0.1, policy='exact')
    with pytest.raises(ValueError, match='period'):
        TimelySynchronizer(subs, 10, 0.1, period=0.0)
    with pytest.raises(ValueError, match='node'):
        TimelySynchronizer([object()], 10, 0.1, period=0.1)
    node.destroy_node()

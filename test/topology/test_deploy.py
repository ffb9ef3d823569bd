"""The one launcher (topology.deploy): options checked, observers in the barrier, fail fast."""

from dataclasses import replace
import pathlib
import sys
import time

import pytest
import yaml

from edgeserve_ros.topology.barrier import gated, monitor_arguments, needs
from edgeserve_ros.topology.deploy import deployed, DeployError, Observer, run_topology
from edgeserve_ros.topology.monitor import arguments
from edgeserve_ros.topology.plan import plan, readiness
from edgeserve_ros.topology.spec import parse_topology

# counts what it reads on argv[1] until stdin closes, then prints the count
COUNTER = '''
import sys, threading, rclpy
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS
rclpy.init(args=[])
node = rclpy.create_node('counter')
seen = []
node.create_subscription(PayloadHeader, sys.argv[1], seen.append, HEADER_QOS)
threading.Thread(target=rclpy.spin, args=(node,), daemon=True).start()
sys.stdin.read()
print(len(seen), flush=True)
'''


def _spec(workers=2, count=20):
    return parse_topology({
        'name': 'deploy', 'workload': 'nids', 'topology': 'parallel', 'speed': 4.0,
        'count': count, 'hosts': ['leader'],
        'sources': [{'name': 'flows', 'part': 0, 'host': 'leader'}],
        'parallel': {'model': 'delay', 'host': 'leader', 'workers': workers}})


@pytest.fixture
def models(tmp_path):
    path = tmp_path / 'models.yaml'
    path.write_text(yaml.safe_dump({'models': [{
        'name': 'delay', 'kind': 'function', 'target': 'edgeserve_ros.models.zoo.fixed_delay',
        'params': {'delay_ms': 5}, 'inputs': ['/deploy/flows']}]}))
    return str(path)


def test_observers_join_the_barrier_and_the_monitor_counts_its_own_subscription():
    spec = _spec()
    nodes = plan(spec, 'm.yaml')
    pubs, subs = needs(spec, nodes, ['/deploy/predictions', '/deploy/flows', '/deploy/flows'])
    assert pubs == readiness(nodes)[0]
    assert subs['/deploy/predictions'] == 2  # the observer and the monitor itself
    assert subs['/deploy/flows'] == readiness(nodes)[1]['/deploy/flows'] + 2
    source = gated(spec, nodes, ['/deploy/flows'])[0]
    assert source.params['wait_subscribers'] == readiness(nodes)[1]['/deploy/flows'] + 1
    args = arguments().parse_args(monitor_arguments(spec, nodes, 5.0, expect=7, drain=1.5))
    assert (args.expect, args.drain) == (7, 1.5)


def test_bad_options_fail_before_anything_starts(models):
    with pytest.raises(ValueError, match="no node named 'worker_9'"):
        run_topology(_spec(), domain_id=1, models=models, params={'worker_9': {'a': 1}})
    with pytest.raises(ValueError, match='shape needs netns'):
        run_topology(_spec(), domain_id=1, models=models, shape={'leader': 10.0})


@pytest.mark.ros
@pytest.mark.slow
def test_a_node_that_exits_before_the_start_fails_the_run_at_once(domain_id, models):
    began = time.monotonic()
    with pytest.raises(DeployError, match='worker_1 on host leader exited with code'):
        run_topology(_spec(), domain_id=domain_id, models=models, startup=120.0,
                     params={'worker_1': {'max_items': 0}})  # outside 1..4096: exits
    assert time.monotonic() - began < 60.0  # not the 120 s of startup


@pytest.mark.ros
@pytest.mark.slow
def test_expect_stops_the_run_and_the_summary_has_the_bench_fields(domain_id, models):
    spec = _spec(workers=2, count=20)
    counter = Observer('leader', [sys.executable, '-c', COUNTER, '/deploy/predictions'],
                       subscribes=['/deploy/predictions'], pipes=True)
    events = []
    with deployed(spec, domain_id=domain_id, models=models, expect=20, idle=10.0,
                  seconds=60.0, observers=[counter], on_event=events.append,
                  params={'worker_0': {'prefetch': 1}}) as run:
        assert run.start_time is not None and [e['event'] for e in events] == ['ready']
        assert '-p prefetch:=1' in ' '.join(run.procs['worker_0'].args)
        summary = run.summary(90.0)
        observer = run.observers[0]
        observer.stdin.close()
        seen = int(observer.stdout.readline())
    assert summary['predictions'] == 20 and summary['nodes'] == 4, summary
    assert summary['start_time'] == run.start_time <= summary['first'] <= summary['last']
    assert sum(summary['workers'].values()) == 20 and set(summary['workers']) <= {
        'worker_0', 'worker_1'}, summary
    assert summary['waiting_for'] == [] and summary['account']['unaccounted'] == 0, summary
    assert seen == 20  # the observer was subscribed before the source started


@pytest.mark.ros
@pytest.mark.slow
def test_a_discovery_server_topology_runs_behind_its_server(domain_id, models):
    port = 11811 + domain_id  # one server per test domain
    spec = replace(_spec(workers=1, count=10), discovery='server', discovery_port=port)
    with deployed(spec, domain_id=domain_id, models=models, expect=10, seconds=60.0) as run:
        server = run.procs['discovery_server']
        assert server.poll() is None and str(port) in server.args
        environ = pathlib.Path(f'/proc/{run.procs["worker_0"].pid}/environ').read_bytes()
        assert f'ROS_DISCOVERY_SERVER=127.0.0.1:{port}'.encode() in environ.split(b'\0')
        summary = run.summary(90.0)
    assert summary['predictions'] == 10 and summary['account']['unaccounted'] == 0, summary

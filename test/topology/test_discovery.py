"""The discovery a topology file selects: environment and server command per mode."""

import pathlib

from edgeserve_ros.topology.discovery import discovery_plan
from edgeserve_ros.topology.run import load

HAR = str(pathlib.Path(__file__).resolve().parents[2] / 'config' / 'topologies' / 'har.yaml')


def test_simple_discovery_needs_no_server_and_no_environment():
    plan = discovery_plan(load(HAR, []))
    assert (plan.server, plan.env, plan.observer_env) == ([], {}, {})


def test_server_mode_points_every_node_at_the_server_and_observers_as_super_clients():
    spec = load(HAR, ['discovery={mode: server, host: s0, port: 11900}'])
    plan = discovery_plan(spec)
    assert plan.host == 's0'
    assert plan.server[1:] == ['discovery', '-i', '0', '-l', '0.0.0.0', '-p', '11900']
    assert plan.env == {'ROS_DISCOVERY_SERVER': '127.0.0.1:11900'}
    # plain clients learn only the endpoints of their own topics; the barrier counts others'
    assert plan.observer_env == {**plan.env, 'ROS_SUPER_CLIENT': 'TRUE'}
    assert discovery_plan(spec, '10.1.0.2').env['ROS_DISCOVERY_SERVER'] == '10.1.0.2:11900'
    named = load(HAR, ['discovery={mode: server, address: leader.local}'])
    assert discovery_plan(named).env['ROS_DISCOVERY_SERVER'] == 'leader.local:11811'

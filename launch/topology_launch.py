"""
Launch a whole topology from one YAML file (the same plan as ``topology.run``).

    ros2 launch edgeserve_ros topology_launch.py topology:=centralized
    ros2 launch edgeserve_ros topology_launch.py config:=/path/to/my_topology.yaml
    ros2 launch edgeserve_ros topology_launch.py topology:=parallel set:='count=300 speed=4'

Every node of the file is started on this machine; on a real cluster, set ``host`` to the
machine's host name in the file and launch it on every machine: each starts only its nodes.
The first host of the file also runs ``topology_monitor``: it holds the sources back until
every node is up (the same start barrier as ``topology.run``), then prints live predictions
and accuracy for as long as the launch runs. A file with ``discovery: {mode: server}`` also
starts a Fast DDS discovery server on its ``discovery.host`` and points every node at it.
"""

import os
import pathlib

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch_ros.actions import Node

from edgeserve_ros.ros.launch_env import dds_profile_actions
from edgeserve_ros.topology.barrier import gated, MONITOR_EXECUTABLE, monitor_arguments
from edgeserve_ros.topology.discovery import discovery_plan
from edgeserve_ros.topology.plan import plan
from edgeserve_ros.topology.run import DEFAULT_MODELS_DIR, load
from edgeserve_ros.workloads.prepare import models_file


def _nodes(context: LaunchContext) -> list:
    overrides = context.launch_configurations['set'].split()
    if context.launch_configurations['topology']:
        overrides.append(f'topology={context.launch_configurations["topology"]}')
    spec = load(context.launch_configurations['config'], overrides)
    host = context.launch_configurations['host']
    models = models_file(spec, pathlib.Path(context.launch_configurations['models_dir']))
    nodes = gated(spec, plan(spec, str(models)))
    discovery = discovery_plan(spec)  # discovery: {mode: server} of the file
    actions: list = [ExecuteProcess(cmd=discovery.server, name='discovery_server',
                                    output='screen')] if discovery.server and host in (
                                        '', discovery.host) else []
    actions += [Node(package='edgeserve_ros', executable=n.executable, name=n.name,
                     parameters=[n.params], output='screen', additional_env=discovery.env or None)
                for n in nodes if host in ('', n.host)]
    if host in ('', spec.hosts[0]):  # it keeps the latched start time for late joiners
        forever = 1e9
        actions.append(Node(package='edgeserve_ros', executable=MONITOR_EXECUTABLE,
                            arguments=monitor_arguments(spec, nodes, forever, forever, forever),
                            output='screen', additional_env=discovery.observer_env or None))
    return actions


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; the nodes come from the topology file at launch time."""
    share = get_package_share_directory('edgeserve_ros')
    default = os.path.join(share, 'config', 'topologies', 'har.yaml')
    return LaunchDescription(dds_profile_actions(share) + [
        DeclareLaunchArgument('config', default_value=default,
                              description='Topology YAML file (config/topologies/*.yaml).'),
        DeclareLaunchArgument('topology', default_value='',
                              description='Override the file\'s topology: centralized, '
                                          'parallel or decentralized.'),
        DeclareLaunchArgument('set', default_value='',
                              description='More overrides of the file\'s keys, space-separated '
                                          'KEY=VALUE (as topology.run --set), e.g. '
                                          '"count=300 speed=4".'),
        DeclareLaunchArgument('host', default_value='',
                              description='Start only the nodes placed on this host of the '
                                          'file (empty: all nodes here).'),
        DeclareLaunchArgument('models_dir', default_value=str(DEFAULT_MODELS_DIR),
                              description='Where trained models are cached.'),
        OpaqueFunction(function=_nodes),
    ])

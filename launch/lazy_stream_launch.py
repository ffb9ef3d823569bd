"""
Launch a lazy stream: a source (built-in data or a gateway in front of a real topic).

And a consumer that fetches 1 in ``every_k`` payloads. Example::

    ros2 launch edgeserve_ros lazy_stream_launch.py source:=gateway every_k:=5
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import EqualsSubstitution, LaunchConfiguration
from launch_ros.actions import Node

from edgeserve_ros.ros.launch_env import dds_profile_actions


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the nodes of one lazy stream."""
    share = get_package_share_directory('edgeserve_ros')
    params = os.path.join(share, 'config', 'dataplane.yaml')
    arg = LaunchConfiguration
    args = [
        DeclareLaunchArgument('params_file', default_value=params,
                              description='YAML file with the nodes\' ros__parameters.'),
        DeclareLaunchArgument('source', default_value='builtin', choices=['builtin', 'gateway'],
                              description='builtin: source_node with built-in data; gateway: '
                                          'expose input_topic as a lazy stream.'),
        DeclareLaunchArgument('input_topic', default_value='/camera/image_raw',
                              description='Existing topic the gateway exposes.'),
        DeclareLaunchArgument('stream', default_value='/robot/camera/lazy',
                              description='Header topic (stream name) of the lazy stream.'),
        DeclareLaunchArgument('delivery', default_value='auto',
                              choices=['lazy', 'eager', 'auto'],
                              description='Payload delivery mode of the source.'),
        DeclareLaunchArgument('every_k', default_value='3',
                              description='The consumer fetches 1 in every_k payloads.'),
        DeclareLaunchArgument('consumer', default_value='true',
                              description='Also start consumer_node.'),
    ]
    source_params = [arg('params_file'), {'delivery': arg('delivery')}]
    return LaunchDescription(args + dds_profile_actions(share) + [
        Node(package='edgeserve_ros', executable='source_node', name='source_node',
             parameters=source_params + [{'stream': arg('stream')}],
             condition=IfCondition(EqualsSubstitution(arg('source'), 'builtin'))),
        Node(package='edgeserve_ros', executable='topic_gateway_node',
             name='topic_gateway_node',
             parameters=source_params + [{'input_topic': arg('input_topic'),
                                          'output_stream': arg('stream')}],
             condition=IfCondition(EqualsSubstitution(arg('source'), 'gateway'))),
        Node(package='edgeserve_ros', executable='consumer_node', name='consumer_node',
             # a list of substitution lists is a STRING_ARRAY; a flat list would be joined
             # into one STRING (launch_ros.utilities.normalize_parameters)
             parameters=[arg('params_file'), {'streams': [[arg('stream')]],
                                              'every_k': arg('every_k')}],
             condition=IfCondition(arg('consumer'))),
    ])

"""
Launch web ingress: a model_node per model of config/web.yaml and the web gateway.

Browsers and non-ROS programs then reach the models over HTTP and WebSocket
(docs/web.md). Example::

    ros2 launch edgeserve_ros web_launch.py models:=qr,digits port:=8080
    EDGESERVE_WEB_TOKEN=... ros2 launch edgeserve_ros web_launch.py host:=0.0.0.0
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
import yaml

from edgeserve_ros.ros.launch_env import dds_profile_actions
from edgeserve_ros.web.launch_plan import web_plan


def _nodes(context, *args, **kwargs):
    path = LaunchConfiguration('config').perform(context)
    with open(path, encoding='utf-8') as f:
        doc = yaml.safe_load(f)
    overrides = {'host': LaunchConfiguration('host').perform(context),
                 'port': int(LaunchConfiguration('port').perform(context)),
                 'token_file': LaunchConfiguration('token_file').perform(context)}
    plan = web_plan(doc, path, LaunchConfiguration('models').perform(context), overrides)
    return [Node(package='edgeserve_ros', executable=n.executable, name=n.name,
                 parameters=[n.parameters], output='screen') for n in plan]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; the nodes come from the config file at launch time."""
    share = get_package_share_directory('edgeserve_ros')
    args = [
        DeclareLaunchArgument('config', default_value=os.path.join(share, 'config', 'web.yaml'),
                              description='Web config: models (model_node model_file), '
                                          'batching per model, gateway parameters.'),
        DeclareLaunchArgument('models', default_value='',
                              description='Comma-separated models of the config to serve '
                                          '(empty: all of them).'),
        DeclareLaunchArgument('host', default_value='127.0.0.1',
                              description='Address the gateway binds; not loopback needs a '
                                          'token (token_file or $EDGESERVE_WEB_TOKEN).'),
        DeclareLaunchArgument('port', default_value='8080',
                              description='TCP port of the gateway (0: any free port).'),
        DeclareLaunchArgument('token_file', default_value='',
                              description='File whose first line is the bearer token.'),
    ]
    return LaunchDescription(args + dds_profile_actions(share) + [OpaqueFunction(function=_nodes)])

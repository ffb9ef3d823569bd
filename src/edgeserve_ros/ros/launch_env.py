"""Launch actions shared by the package's launch files (imported by them only)."""

import os
from typing import List

from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration

from edgeserve_ros.ros.dds_profile import profile_path, profile_variable


def dds_profile_actions(share_dir: str) -> List[object]:
    """
    Declare ``dds_profile`` and point Fast DDS at it for every node of the launch.

    The default keeps a profile already chosen in the environment, else the package's
    ``config/fastdds.xml`` (``fastdds3.xml`` for Fast DDS 3.x distros): 50 ms heartbeats, so
    a lost fragment of a fetched payload is repaired in milliseconds instead of 3 s.

    :param share_dir: the package's share directory
    """
    variable = profile_variable()
    installed = profile_path(os.path.join(share_dir, 'config'))
    default = EnvironmentVariable(variable, default_value=installed)
    return [
        DeclareLaunchArgument(
            'dds_profile', default_value=default,
            description=f'Fast DDS XML profile file for the nodes, set as {variable} '
                        '(default: the one in the environment, else the package\'s).'),
        SetEnvironmentVariable(variable, LaunchConfiguration('dds_profile')),
    ]

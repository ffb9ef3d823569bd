"""Launch actions shared by the package's launch files (imported by them only)."""

import os
from typing import List

from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration

#: Fast DDS 2.x reads the first, 3.x the second.
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def dds_profile_actions(share_dir: str) -> List[object]:
    """
    Declare ``dds_profile`` and point Fast DDS at it for every node of the launch.

    The default keeps a profile already chosen in the environment, else the package's
    ``config/fastdds.xml`` (50 ms heartbeats, so a lost fragment of a fetched payload is
    repaired in milliseconds instead of the 3 s default).

    :param share_dir: the package's share directory
    """
    installed = os.path.join(share_dir, 'config', 'fastdds.xml')
    default = EnvironmentVariable(PROFILE_VARIABLES[0], default_value=installed)
    actions: List[object] = [DeclareLaunchArgument(
        'dds_profile', default_value=default,
        description='Fast DDS XML profile file for the nodes (default: the one in the '
                    'environment, else the package\'s config/fastdds.xml).')]
    actions += [SetEnvironmentVariable(name, LaunchConfiguration('dds_profile'))
                for name in PROFILE_VARIABLES]
    return actions

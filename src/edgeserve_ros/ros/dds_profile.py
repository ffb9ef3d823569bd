"""
Which Fast DDS XML profile file a ROS distro reads, and through which variable (no rclpy).

Fast DDS 2.x (Humble, Iron, Jazzy) reads ``FASTRTPS_DEFAULT_PROFILES_FILE`` and spells the
writer times in camelCase (``heartbeatPeriod``); 3.x (Kilted and later) reads
``FASTDDS_DEFAULT_PROFILES_FILE`` -- but still prefers the old variable when it is set --
and wants snake_case (``heartbeat_period``). So each profile of ``config/`` has a 2.x file
``<name>.xml`` and a 3.x twin ``<name>3.xml``, and exactly one variable is set.

``python -m edgeserve_ros.ros.dds_profile CONFIG_DIR`` prints ``VARIABLE=FILE`` of the
``fastdds`` profile for ``$ROS_DISTRO`` (what ``scripts/dev`` exports).
"""

import os
import sys
from typing import Dict, List, Optional

#: Distros whose rmw_fastrtps links Fast DDS 2.x.
FAST_DDS_2_DISTROS = ('foxy', 'galactic', 'humble', 'iron', 'jazzy')
#: Variables Fast DDS reads a profile file from (2.x, 3.x).
VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def fast_dds_major(distro: Optional[str] = None) -> int:
    """Return 2 or 3 for ``distro`` (default ``$ROS_DISTRO``; unset counts as Jazzy)."""
    name = (distro if distro is not None else os.environ.get('ROS_DISTRO', '')) or 'jazzy'
    return 2 if name in FAST_DDS_2_DISTROS else 3


def profile_path(config_dir: str, name: str = 'fastdds', distro: Optional[str] = None) -> str:
    """Return the file of profile ``name`` in ``config_dir`` for ``distro``'s Fast DDS."""
    suffix = '' if fast_dds_major(distro) == 2 else '3'
    return os.path.join(config_dir, f'{name}{suffix}.xml')


def profile_variable(distro: Optional[str] = None) -> str:
    """Return the environment variable ``distro``'s Fast DDS reads its profile file from."""
    return VARIABLES[0] if fast_dds_major(distro) == 2 else VARIABLES[1]


def profile_env(config_dir: str, name: str = 'fastdds',
                distro: Optional[str] = None) -> Dict[str, str]:
    """Return the environment selecting profile ``name`` (the other variable left out)."""
    return {profile_variable(distro): profile_path(config_dir, name, distro)}


def main(argv: Optional[List[str]] = None) -> int:
    """Print ``VARIABLE=FILE`` selecting the ``fastdds`` profile of the config directory."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print('usage: python -m edgeserve_ros.ros.dds_profile CONFIG_DIR', file=sys.stderr)
        return 2
    ((variable, path),) = profile_env(args[0]).items()
    print(f'{variable}={path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

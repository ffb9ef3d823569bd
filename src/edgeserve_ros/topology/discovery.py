"""
DDS discovery of a topology: Fast DDS's simple discovery, or a discovery server it names.

``discovery: {mode: server, host: leader, port: 11811, address: 10.0.0.1}`` in a topology
file starts ``fastdds discovery`` on ``host`` and points every node at it through
``ROS_DISCOVERY_SERVER`` (rmw_fastrtps reads it). Plain clients learn only the endpoints of
topics they use themselves, so observers that count other nodes' endpoints (the
``topology_monitor`` behind the start barrier, ``ros2 topic list``) run as super clients
(``ROS_SUPER_CLIENT=TRUE``). Used by ``topology.run`` and ``topology_launch.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import shutil
from typing import Dict, List

from edgeserve_ros.topology.spec import TopologySpec


@dataclass(frozen=True)
class DiscoveryPlan:
    """What a topology's discovery needs: a server process, and each process's environment."""

    #: host of the file that runs the server ('' for simple discovery)
    host: str = ''
    #: command line of the Fast DDS discovery server ([] for simple discovery)
    server: List[str] = field(default_factory=list)
    #: environment of every node process
    env: Dict[str, str] = field(default_factory=dict)
    #: environment of observers that count other nodes' endpoints (the monitor, the CLI)
    observer_env: Dict[str, str] = field(default_factory=dict)


def discovery_plan(spec: TopologySpec, address: str = '') -> DiscoveryPlan:
    """
    Return the discovery of ``spec``.

    :param address: where the other hosts reach the server's host (e.g. its network
        namespace address); default ``discovery.address`` of the file, else 127.0.0.1
    """
    if spec.discovery != 'server':
        return DiscoveryPlan()
    where = address or spec.discovery_address or '127.0.0.1'
    env = {'ROS_DISCOVERY_SERVER': f'{where}:{spec.discovery_port}'}
    fastdds = shutil.which('fastdds') or 'fastdds'
    # -l 0.0.0.0: listen on every interface of the server's host (loopback included)
    return DiscoveryPlan(host=spec.discovery_host,
                         server=[fastdds, 'discovery', '-i', '0', '-l', '0.0.0.0',
                                 '-p', str(spec.discovery_port)],
                         env=env, observer_env={**env, 'ROS_SUPER_CLIENT': 'TRUE'})

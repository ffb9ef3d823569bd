"""
Run the stock ApproximateTime synchronizers (ROS 1 from Debian 12, ROS 2 Python) on a trace.

Nothing is re-implemented: :func:`run_baseline` pipes the trace to
``bench/baselines/approx_py.py`` under Debian's ``/usr/bin/python3`` (ROS 1 Python), to the
C++ driver ``bench/baselines/approx_cpp.cpp`` (ROS 1 C++, built once per source
version into ``~/.cache/edgeserve_ros/baselines``), or
to :mod:`.ros2_baseline` under this Python (ROS 2 ``message_filters``, e.g. 4.11.2 from
the Jazzy wheelhouse, which needs ROS 2 sourced), and
turns their matched sets into :class:`SyncTuple` with ``tick = emit_time =``
arrival of the header that completed the match.  Needs a source checkout (or
``EDGESERVE_ROOT`` pointing at one).
"""

import importlib.util
from importlib import metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .types import FRESH, HeaderEvent, Member, SyncTuple

BASELINES = ('approx-py', 'approx-cpp', 'approx-ros2')
_PY_FILES = ('/usr/lib/python3/dist-packages/message_filters/__init__.py',
             '/usr/lib/python3/dist-packages/rospy/__init__.py',
             '/usr/lib/python3/dist-packages/std_msgs/msg/__init__.py')
_CPP_HEADER = '/usr/include/message_filters/sync_policies/approximate_time.h'


class BaselineUnavailable(RuntimeError):
    """The baseline cannot run here (package missing, build failed, bad stream count)."""


def _root() -> Path:
    env = os.environ.get('EDGESERVE_ROOT')
    root = Path(env) if env else Path(__file__).resolve().parents[3]
    if not (root / 'bench' / 'baselines').is_dir():
        raise BaselineUnavailable('baseline drivers not found: run from a source checkout '
                                  'or set EDGESERVE_ROOT')
    return root


def _version(package: str) -> str:
    try:
        res = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', package],
                             capture_output=True, text=True, check=False)
    except OSError:
        return 'unknown version'
    return res.stdout.strip() if res.returncode == 0 else 'unknown version'


def _command(name: str, n: int, queue_size: int, slop: float) -> Tuple[List[str], str]:
    root = _root()
    args = [str(n), str(queue_size), repr(float(slop))]
    if name == 'approx-py':
        if not all(os.path.exists(p) for p in _PY_FILES + ('/usr/bin/python3',)):
            raise BaselineUnavailable('approx-py baseline needs apt packages '
                                      'python3-message-filters python3-rospy python3-std-msgs')
        label = (f'baseline: ROS 1 message_filters {_version("python3-message-filters")} '
                 'ApproximateTimeSynchronizer (python, Debian python3-message-filters, '
                 '/usr/bin/python3)')
        return ['/usr/bin/python3', str(root / 'bench/baselines/approx_py.py')] + args, label
    if name == 'approx-ros2':
        if importlib.util.find_spec('message_filters') is None:
            raise BaselineUnavailable('approx-ros2 baseline needs ROS 2 message_filters '
                                      '(Jazzy wheelhouse or ros-jazzy-message-filters)')
        try:
            version = metadata.version('message_filters')
        except metadata.PackageNotFoundError:
            version = 'unknown version'
        label = (f'baseline: ROS 2 message_filters {version} ApproximateTimeSynchronizer '
                 f'(python, {sys.executable})')
        return [sys.executable, '-m', 'edgeserve_ros.sync.ros2_baseline'] + args, label
    if not os.path.exists(_CPP_HEADER):
        raise BaselineUnavailable('approx-cpp baseline needs apt package libmessage-filters-dev')
    if not 2 <= n <= 9:
        raise BaselineUnavailable(f'approx-cpp baseline supports 2..9 streams, got {n}')
    build = subprocess.run(['sh', str(root / 'bench/baselines/build_approx_cpp.sh')],
                           capture_output=True, text=True, check=False)
    if build.returncode != 0:
        raise BaselineUnavailable('approx-cpp build failed (needs g++ and apt package '
                                  f'libmessage-filters-dev): {build.stderr.strip()[-300:]}')
    label = (f'baseline: ROS 1 message_filters {_version("libmessage-filters-dev")} '
             'sync_policies::ApproximateTime (C++, Debian libmessage-filters-dev)')
    return [build.stdout.strip()] + args, label


def run_baseline(name: str, events: Sequence[HeaderEvent], streams: Sequence[str],
                 queue_size: int, slop: float) -> Tuple[str, List[SyncTuple]]:
    """
    Run baseline ``name`` on ``events`` (arrival order); return (label, matched sets).

    :raises BaselineUnavailable: with a message naming the missing apt package.
    """
    if name not in BASELINES:
        raise ValueError(f'baseline: must be one of {BASELINES}, got {name!r}')
    if len(streams) < 2:
        raise BaselineUnavailable(f'{name} baseline needs at least 2 streams, '
                                  f'got {len(streams)}')
    cmd, label = _command(name, len(streams), queue_size, slop)
    index = {s: i for i, s in enumerate(streams)}
    feed = ''.join(f'{index[e.stream]} {k} {e.stamp!r} {e.arrival!r}\n'
                   for k, e in enumerate(events))
    res = subprocess.run(cmd, input=feed, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise BaselineUnavailable(f'{name} failed ({res.returncode}): '
                                  f'{res.stderr.strip()[-300:]}')
    out = []
    for line in res.stdout.splitlines():
        fields = line.split()
        t = float(fields[0])
        members: Dict[str, Optional[Member]] = {}
        for s, k in zip(streams, fields[1:]):
            e = events[int(k)]
            members[s] = Member(e.seq, e.stamp, FRESH, t - e.stamp, e.arrival)
        out.append(SyncTuple(t, t, members))
    return label, out

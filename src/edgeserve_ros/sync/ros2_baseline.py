"""
Offline driver for the stock ROS 2 Python ApproximateTimeSynchronizer (message_filters).

Runs under the project's Python with ROS 2 sourced (message_filters from the ROS 2 Jazzy
wheelhouse or apt); used by :mod:`.baselines`. Same protocol as ``bench/baselines/``
``approx_py.py`` and ``approx_cpp.cpp``::

    python -m edgeserve_ros.sync.ros2_baseline N QUEUE_SIZE SLOP < events > matches

events: ``stream_index seq stamp arrival`` per line, in arrival order;
matches: ``arrival_of_completing_event seq_0 ... seq_{N-1}`` per matched set.
"""

import sys
from typing import Any, List


class _Stamped:
    """Minimal header-carrying message."""

    __slots__ = ('header', 'seq')

    def __init__(self, header: Any, seq: int) -> None:
        self.header = header
        self.seq = seq


def main(argv: List[str]) -> int:
    """Feed events from stdin to ApproximateTimeSynchronizer, print matched sets."""
    if len(argv) != 4:
        sys.stderr.write('usage: python -m edgeserve_ros.sync.ros2_baseline N QUEUE_SIZE '
                         'SLOP < events\n')
        return 2
    n, queue_size, slop = int(argv[1]), int(argv[2]), float(argv[3])
    from builtin_interfaces.msg import Time
    import message_filters
    from std_msgs.msg import Header
    inputs = [message_filters.SimpleFilter() for _ in range(n)]
    sync = message_filters.ApproximateTimeSynchronizer(inputs, queue_size, slop)
    out = sys.stdout
    current = [0.0]

    def on_match(*msgs: Any) -> None:
        out.write('%.9f %s\n' % (current[0], ' '.join(str(m.seq) for m in msgs)))

    sync.registerCallback(on_match)
    for line in sys.stdin:
        index, seq, stamp, arrival = line.split()
        current[0] = float(arrival)
        ns = round(float(stamp) * 1e9)
        header = Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000))
        inputs[int(index)].signalMessage(_Stamped(header, int(seq)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

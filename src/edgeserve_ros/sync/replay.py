r"""
Replay a header trace through the synchronizer (or a stock baseline), no ROS needed.

Usage::

    python -m edgeserve_ros.sync.replay --period S --max-skew S --max-age S \
        --policy impute|partial|skip [--queue-size N] \
        [--clock none|envelope] [--baseline approx-py|approx-cpp|approx-ros2] \
        < trace.csv > tuples.jsonl

``trace.csv`` holds ``stream,seq,stamp,arrival`` lines (seconds), sorted by
arrival, optionally after that header line.  Every stream seen in the trace is a
required stream (in order of first appearance); ticks start at the first
arrival, and the replay ends at the last arrival plus ``max_skew`` (every tick
up to the last arrival is decided, plus later ticks that were complete early).
Each emitted tuple is one JSON line
``{"t": emit_time, "tick": tick, "members": {stream: {"seq", "stamp", "state",
"age"} | null}}``, ``age = tick - stamp`` (negative for a member stamped after
the tick).  With ``--baseline`` the stock ROS 1 (``approx-py``, ``approx-cpp``) or
ROS 2 (``approx-ros2``) ApproximateTime matched sets are written in the same format
(``tick`` = ``t`` =
arrival of the header that completed the set, ``state`` always ``fresh``), with
``--max-skew`` as slop and ``--queue-size`` as queue size; a one-line label of
what ran goes to stderr.  Bad input or parameters: one line on stderr, exit 2.
"""

import argparse
import json
import sys
from typing import List, Optional, Sequence, TextIO

from .baselines import BASELINES, BaselineUnavailable, run_baseline
from .config import CLOCK_MODES, POLICIES, StreamSpec, SyncConfig
from .core import Synchronizer
from .trace import parse_trace, stream_names, TraceError
from .types import HeaderEvent, SyncTuple


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='python -m edgeserve_ros.sync.replay',
                                description='Replay a header trace (CSV on stdin) through '
                                            'the synchronizer; JSON lines on stdout.')
    p.add_argument('--period', type=float, required=True, help='target output period, s')
    p.add_argument('--max-skew', type=float, required=True,
                   help='max stamp span of fresh members and max wait after a tick, s')
    p.add_argument('--max-age', type=float, required=True, help='max member age, s')
    p.add_argument('--policy', choices=POLICIES, default='impute')
    p.add_argument('--queue-size', type=int, default=10, help='per-stream queue bound')
    p.add_argument('--clock', choices=CLOCK_MODES, default='none',
                   help='per-source clock offset correction (not for baselines)')
    p.add_argument('--baseline', choices=BASELINES, default=None,
                   help='run a stock ApproximateTime instead (ROS 1 python/C++, ROS 2 '
                        'python)')
    return p


def synchronize(events: Sequence[HeaderEvent], config: SyncConfig) -> List[SyncTuple]:
    """Run ``events`` (arrival order) through a :class:`Synchronizer`; return all tuples."""
    if not events:
        return []
    sync = Synchronizer(config, events[0].arrival)
    out: List[SyncTuple] = []
    for event in events:
        sync.add(event)
        out.extend(sync.take())
    out.extend(sync.advance(events[-1].arrival + config.max_skew))
    return out


def _write(tuples: Sequence[SyncTuple], stdout: TextIO) -> None:
    for tup in tuples:
        stdout.write(json.dumps(tup.to_json_dict(), separators=(',', ':')) + '\n')


def main(argv: Optional[Sequence[str]] = None, stdin: Optional[TextIO] = None,
         stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 bad input or unavailable baseline)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        events = parse_trace(stdin)
    except TraceError as exc:
        print(f'error: {exc}', file=stderr)
        return 2
    streams = stream_names(events) or ['_']
    try:
        config = SyncConfig(period=args.period, max_skew=args.max_skew, max_age=args.max_age,
                            policy=args.policy, streams=tuple(StreamSpec(s) for s in streams),
                            queue_size=args.queue_size, clock=args.clock)
    except ValueError as exc:
        print(f'error: {exc}', file=stderr)
        return 2
    if args.baseline is None:
        _write(synchronize(events, config), stdout)
        return 0
    try:
        label, tuples = run_baseline(args.baseline, events, streams, args.queue_size,
                                     args.max_skew)
    except BaselineUnavailable as exc:
        print(f'error: {exc}', file=stderr)
        return 2
    print(label, file=stderr)
    _write(tuples, stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())

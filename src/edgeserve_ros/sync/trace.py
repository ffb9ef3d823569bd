"""Header trace CSV reading (``stream,seq,stamp,arrival``) for the replay CLI."""

import math
from typing import Iterable, List

from .types import HeaderEvent

HEADER = ('stream', 'seq', 'stamp', 'arrival')


class TraceError(ValueError):
    """A malformed trace line; ``str()`` is a one-line message naming the line."""

    def __init__(self, line_no: int, message: str) -> None:
        """Record the 1-based ``line_no`` and the ``message``."""
        super().__init__(f'line {line_no}: {message}')
        self.line_no = line_no


def _float(line_no: int, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(line_no, f'{key} is not a number: {text!r}') from None
    if not math.isfinite(value):
        raise TraceError(line_no, f'{key} is not finite: {text!r}')
    return value


def parse_trace(lines: Iterable[str]) -> List[HeaderEvent]:
    """
    Parse trace lines into events, checking columns, numbers and arrival order.

    A first line ``stream,seq,stamp,arrival`` is skipped; blank lines are ignored.

    :raises TraceError: on the first bad line.
    """
    events: List[HeaderEvent] = []
    last_arrival = -math.inf
    for line_no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(',')]
        if line_no == 1 and tuple(fields) == HEADER:
            continue
        if len(fields) != 4:
            raise TraceError(line_no, f'expected 4 columns stream,seq,stamp,arrival, '
                                      f'got {len(fields)}')
        stream, seq_text, stamp_text, arrival_text = fields
        if not stream:
            raise TraceError(line_no, 'empty stream name')
        try:
            seq = int(seq_text)
        except ValueError:
            raise TraceError(line_no, f'seq is not an integer: {seq_text!r}') from None
        stamp = _float(line_no, 'stamp', stamp_text)
        arrival = _float(line_no, 'arrival', arrival_text)
        if arrival < last_arrival:
            raise TraceError(line_no, f'arrival {arrival!r} is earlier than the previous '
                                      f'line\'s {last_arrival!r} (sort the trace by arrival)')
        last_arrival = arrival
        events.append(HeaderEvent(stream, seq, stamp, arrival))
    return events


def stream_names(events: Iterable[HeaderEvent]) -> List[str]:
    """Return the stream names in order of first appearance."""
    return list(dict.fromkeys(e.stream for e in events))

"""Fuzz: any header trace is parsed into ordered, finite events or rejected with TraceError."""

import math
import os

from conftest import fuzz_case
from hypothesis import given, HealthCheck, settings, strategies as st

from edgeserve_ros.sync.trace import parse_trace, TraceError

#: examples per test; a bench run raises it to 10,000
EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', '200'))

numbers = (st.floats(allow_nan=True, allow_infinity=True).map(repr)
           | st.integers(-10**20, 10**20).map(str) | st.text(max_size=6))
good_line = st.builds(lambda s, q, t, a: f'{s},{q},{t},{a}', st.sampled_from(['a', 'b', ' c ']),
                      st.integers(0, 10**6), st.floats(0, 1e6), st.floats(0, 1e6))
bad_line = st.builds(','.join, st.lists(numbers | st.sampled_from(['', 'a', 'stream']),
                                        max_size=6))
lines = st.lists(good_line | bad_line | st.text(max_size=30), max_size=20)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.booleans(), lines)
def test_trace_is_parsed_or_rejected_naming_the_line(with_header, body):
    text = (['stream,seq,stamp,arrival'] if with_header else []) + body
    if fuzz_case():
        return
    try:
        events = parse_trace(text)
    except TraceError as exc:
        assert 1 <= exc.line_no <= len(text) and str(exc).startswith(f'line {exc.line_no}: ')
        return
    assert len(events) <= len(text)
    assert all(e.stream and math.isfinite(e.stamp) and math.isfinite(e.arrival)
               for e in events)
    assert all(a.arrival <= b.arrival for a, b in zip(events, events[1:]))

"""``tuple_message``: members built through their slots equal the constructor's, byte for byte."""

import pytest

rclpy = pytest.importorskip('rclpy')

from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402

from edgeserve_ros.msg import PayloadHeader, SyncMember  # noqa: E402
from edgeserve_ros.sync import tuples  # noqa: E402
from edgeserve_ros.sync.types import FRESH, IMPUTED, Member, REUSED, SyncTuple  # noqa: E402


def _tuple():
    members = {'/a': Member(7, 10.25, FRESH, 0.004, 10.2561),
               '/b': Member(3, 9.9, REUSED, 0.354, 9.95),
               '/c': Member(1, 9.5, IMPUTED, 0.754, 9.6), '/d': None}
    return SyncTuple(10.254, 10.2571, members)


def _headers():
    out = {}
    for i, stream in enumerate(['/a', '/b']):
        h = PayloadHeader(stream=stream, seq=[7, 3][i], size=256, checksum=2**63 + i,
                          fetch_service=stream + '/fetch', shm_name='/ring', inline_payload=b'x')
        h.header.stamp = Time(sec=10, nanosec=250_000_000)
        out[stream] = {h.seq: h}
    return out  # /c has no header: payload_header stays empty


def test_fast_members_equal_the_constructors_byte_for_byte():
    assert tuples._FAST_SLOTS
    t, headers = _tuple(), _headers()
    fast = tuples.tuple_message(t, 42, headers)
    tuples._FAST_SLOTS = False
    try:
        slow = tuples.tuple_message(t, 42, headers)
    finally:
        tuples._FAST_SLOTS = True
    assert fast == slow
    assert serialize_message(fast) == serialize_message(slow)
    states = [m.state for m in fast.members]
    assert states == [SyncMember.STATE_FRESH, SyncMember.STATE_REUSED, SyncMember.STATE_IMPUTED,
                      SyncMember.STATE_MISSING]
    assert fast.members[0].payload_header.checksum == 2**63
    assert not fast.members[3].present and fast.members[2].payload_header.stream == ''


def test_fast_members_accept_payloads_later():
    msg = tuples.tuple_message(_tuple(), 1, _headers())
    msg.members[0].payload_fetched = True
    msg.members[0].payload = b'abc'
    assert bytes(msg.members[0].payload) == b'abc'
    assert len(serialize_message(msg)) > 0

"""FetchPayload answers: one entry per seq on every path, bounded size, hostile requests."""

import os
from types import SimpleNamespace

from conftest import fuzz_case
from hypothesis import given, HealthCheck, settings, strategies as st

from edgeserve_ros.dataplane.ring import PayloadRing
from edgeserve_ros.dataplane.serve import answer_fetch, FetchCounts, MAX_BATCH
from edgeserve_ros.dataplane.status import FetchStatus, MAX_NAME_LENGTH
from edgeserve_ros.srv import FetchPayload

EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', '300'))
#: bytes an entry may take besides its payload: fixed fields plus a short reason
ENTRY_OVERHEAD = 64 + MAX_NAME_LENGTH + 200


def _streams(count=5, size=1000, ttl=10.0):
    ring = PayloadRing('/cam', 1 << 20, ttl)
    for i in range(count):
        ring.put([bytes([i]) * size], now=0.0)
    return {'/cam': SimpleNamespace(ring=ring)}


def _request(stream='/cam', seqs=(0,), max_bytes=0):
    return FetchPayload.Request(stream=stream, seqs=list(seqs), max_bytes=max_bytes)


def _reply_bytes(entries):
    return sum(24 + len(e.stream) + len(e.reason) + len(e.data) for e in entries)


def test_a_huge_stream_name_is_refused_without_echoing_it():
    entries = answer_fetch(_streams(), _request('x' * 100_000, range(64)), now=1.0)
    assert len(entries) == 64
    assert {e.status for e in entries} == {FetchStatus.BAD_REQUEST}
    assert 'characters' in entries[0].reason and all(e.stream == '' for e in entries)
    assert _reply_bytes(entries) < 64 * 40  # was 12.8 MB: the name in every entry and reason


def test_rejected_batch_sizes_answer_one_entry_per_seq():
    assert answer_fetch(_streams(), _request(seqs=()), now=1.0) == []
    too_many = answer_fetch(_streams(), _request(seqs=range(MAX_BATCH + 1)), now=1.0)
    assert [e.seq for e in too_many] == list(range(MAX_BATCH + 1))
    assert {e.status for e in too_many} == {FetchStatus.BAD_REQUEST}
    assert f'1 to {MAX_BATCH}' in too_many[0].reason


def test_every_path_keeps_request_order():
    entries = answer_fetch(_streams(ttl=10.0), _request(seqs=[4, 99, 0, 2], max_bytes=0), 1.0)
    assert [e.seq for e in entries] == [4, 99, 0, 2]
    assert [e.status for e in entries] == [FetchStatus.OK, FetchStatus.UNKNOWN,
                                           FetchStatus.OK, FetchStatus.OK]
    expired = answer_fetch(_streams(ttl=0.5), _request(seqs=[1, 3]), now=1.0)
    assert [e.status for e in expired] == [FetchStatus.EXPIRED] * 2
    unknown = answer_fetch(_streams(), _request('/other', [1, 2]), now=1.0)
    assert [e.status for e in unknown] == [FetchStatus.UNKNOWN] * 2


def test_reply_bytes_stay_within_the_budget():
    entries = answer_fetch(_streams(size=1000), _request(seqs=range(5)), 1.0,
                           max_reply_bytes=2500)
    assert [e.status for e in entries] == [FetchStatus.OK] * 2 + [FetchStatus.TOO_LARGE] * 3
    assert 'fewer seqs' in entries[2].reason
    small = answer_fetch(_streams(size=1000), _request(seqs=[0], max_bytes=999), 1.0)
    assert small[0].status == FetchStatus.TOO_LARGE


def test_counts_fill_source_stats_fields():
    counts = FetchCounts()
    counts.add(answer_fetch(_streams(), _request(seqs=[0, 1, 77]), 1.0))
    counts.add(answer_fetch(_streams(), _request('', [0]), 1.0))
    assert (counts.requests, counts.items, counts.ok, counts.failed) == (2, 4, 2, 2)
    assert counts.bad_requests == 1


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(stream=st.one_of(st.just('/cam'), st.text(max_size=400),
                        st.text(min_size=1000, max_size=3000)),
       seqs=st.lists(st.integers(0, 2**64 - 1), max_size=3 * MAX_BATCH),
       max_bytes=st.integers(0, 2**64 - 1), budget=st.integers(0, 10_000))
def test_any_request_gets_a_bounded_answer_per_seq(stream, seqs, max_bytes, budget):
    if fuzz_case():
        return
    entries = answer_fetch(_streams(), _request(stream, seqs, max_bytes), 1.0, budget)
    assert [e.seq for e in entries] == seqs
    assert sum(len(e.data) for e in entries) <= budget
    assert _reply_bytes(entries) <= len(seqs) * ENTRY_OVERHEAD + budget
    for entry in entries:
        assert (len(entry.data) == 1000) == (entry.status == FetchStatus.OK)

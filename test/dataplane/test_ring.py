"""Payload ring: byte budget, eviction, TTL, slot validation (plain pytest + hypothesis)."""

from hypothesis import given, settings, strategies as st
import pytest

from edgeserve_ros.dataplane.checksum import checksum, Digest
from edgeserve_ros.dataplane.ring import (PayloadRing, PayloadTooLarge, SlotReader,
                                          stream_key)
from edgeserve_ros.dataplane.shm import SharedPayloadRing, ShmAttachments
from edgeserve_ros.dataplane.status import FetchStatus


def _payload(seq: int, size: int) -> bytes:
    return bytes((seq + i) % 251 for i in range(size))


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(256, 8192),
       sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=60))
def test_budget_holds_and_every_held_payload_reads_back(capacity, sizes):
    ring = PayloadRing('s', capacity, ttl=1e9)
    for size in sizes:
        try:
            slot = ring.put([_payload(ring.next_seq, size)], now=0.0)
        except PayloadTooLarge:
            continue
        assert slot.seq == ring.next_seq - 1
        assert ring.stats.stored_bytes <= capacity
        held = 0
        for old in range(ring.next_seq):
            status, info = ring.lookup(old, now=0.0)
            if status is FetchStatus.OK:
                held += 1
                assert bytes(ring.read(info)) == _payload(old, info.size)
            else:
                assert status is FetchStatus.EXPIRED
        assert held == len(ring)
        assert ring.stats.stored == held + ring.stats.evicted
    assert ring.lookup(ring.next_seq, 0.0)[0] is FetchStatus.UNKNOWN


def test_oversized_payload_is_rejected_and_counted_without_loss():
    ring = PayloadRing('s', 1024, ttl=10)
    ring.put([b'a' * 100], 0.0)
    with pytest.raises(PayloadTooLarge, match="stream 's'"):
        ring.put([b'b' * 2000], 0.0)
    assert ring.stats.rejected_too_large == 1
    assert ring.lookup(0, 0.0)[0] is FetchStatus.OK and ring.next_seq == 1


def test_ttl_expires_and_counts():
    ring = PayloadRing('s', 4096, ttl=1.0)
    ring.put([b'x'], now=0.0)
    ring.put([b'y'], now=0.5)
    assert ring.lookup(0, now=1.2)[0] is FetchStatus.EXPIRED
    assert ring.lookup(1, now=1.2)[0] is FetchStatus.OK
    assert ring.stats.expired == 1


def test_parts_are_stored_contiguously_with_one_checksum():
    ring = PayloadRing('s', 4096, ttl=10)
    slot = ring.put([b'head', memoryview(b'-body')], 0.0)
    assert bytes(ring.read(slot)) == b'head-body'
    assert slot.checksum == checksum(b'head-body')


def test_checksum_is_xxh3_64_with_seed_0():
    # reference values of the xxHash project (XXH3_64bits of the empty input, seed 0)
    assert checksum(b'') == 0x2D06800538D394C2
    digest = Digest()
    for part in (b'ab', memoryview(b'c'), bytearray(b'd' * 5000)):
        digest.update(part)
    assert digest.value() == checksum(b'abc' + b'd' * 5000) < 1 << 64


@pytest.mark.parametrize('bad', [{'ttl': 0}, {'capacity': 10}])
def test_bad_settings_name_the_culprit(bad):
    args = {'capacity': 4096, 'ttl': 1.0, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        PayloadRing('s', args['capacity'], args['ttl'])


def test_shared_ring_reader_detects_overwrite():
    ring = SharedPayloadRing('/cam', 4096, ttl=10)
    try:
        attachments = ShmAttachments()
        reader = attachments.reader(ring.shm_name)
        key = stream_key('/cam')
        first = ring.put([b'A' * 1000], 0.0)
        assert reader.copy(first.offset, key, 0, 1000) == b'A' * 1000
        for seq in range(1, 8):  # wrap around: seq 0 gets overwritten
            ring.put([b'B' * 1000], 0.0)
        assert ring.lookup(0, 0.0)[0] is FetchStatus.EXPIRED
        assert reader.copy(first.offset, key, 0, 1000) is None
        assert reader.copy(10**9, key, 0, 10) is None  # out of range, no crash
        assert attachments.reader('../etc/passwd') is None
        attachments.close()
    finally:
        ring.close()


def test_zero_copy_view_is_read_only_and_its_overwrite_is_detected():
    ring = SharedPayloadRing('/cam', 4096, ttl=10)
    attachments = ShmAttachments()
    try:
        reader = attachments.reader(ring.shm_name)
        key = stream_key('/cam')
        first = ring.put([b'A' * 1000], 0.0)
        slot = (first.offset, key, 0, 1000)
        view = reader.view(*slot)
        assert view is not None and view.readonly and bytes(view) == b'A' * 1000
        assert reader.intact(*slot)
        for _ in range(1, 8):  # wrap around: seq 0 gets overwritten under the view
            ring.put([b'B' * 1000], 0.0)
        assert not reader.intact(*slot)
        assert reader.view(*slot) is None
        attachments.close()  # a live view keeps the map: closing it must not fail
        assert len(view) == 1000
    finally:
        attachments.close()
        ring.close()


def test_slot_reader_rejects_wrong_stream():
    ring = PayloadRing('a', 4096, ttl=10)
    slot = ring.put([b'data'], 0.0)
    reader = SlotReader(ring._buf)
    assert reader.copy(slot.offset, stream_key('a'), 0, 4) == b'data'
    assert reader.copy(slot.offset, stream_key('b'), 0, 4) is None


def test_stale_segments_of_dead_processes_are_removed(tmp_path):
    import os
    import subprocess

    from edgeserve_ros.dataplane.shm import remove_stale_segments, SHM_DIR
    dead = subprocess.Popen(['true'])
    dead.wait()
    stale = os.path.join(SHM_DIR, f'edgeserve_{dead.pid}_deadbeef')
    mine = SharedPayloadRing('/live', 4096, ttl=10)
    open(stale, 'wb').close()
    try:
        assert remove_stale_segments() >= 1
        assert not os.path.exists(stale)
        assert os.path.exists(os.path.join(SHM_DIR, mine.shm_name))  # a live owner's stays
    finally:
        mine.close()

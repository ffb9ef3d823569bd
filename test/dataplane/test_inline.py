"""Inliner: same-host ring payloads go inline to other hosts, within the answer's budget."""

import pytest

from edgeserve_ros.dataplane.checksum import checksum
from edgeserve_ros.dataplane.inline import Inliner
from edgeserve_ros.dataplane.shm import SharedPayloadRing
from edgeserve_ros.msg import PayloadHeader

HERE = 'host-a'


@pytest.fixture
def ring():
    ring = SharedPayloadRing('/cam', 4096, ttl=10)
    yield ring
    ring.close()


def _header(ring, data, host=HERE):
    slot = ring.put([data], 0.0)
    return PayloadHeader(stream='/cam', seq=slot.seq, size=slot.size, checksum=slot.checksum,
                         host_id=host, shm_name=ring.shm_name, shm_offset=slot.offset,
                         fetch_service='/src/fetch', content_type='image/raw')


def test_a_reader_on_another_host_gets_the_payload_inline(ring):
    lazy = _header(ring, b'A' * 1000)
    inliner = Inliner(HERE, 1 << 20)
    assert inliner.start('host-b')
    eager = inliner.header(lazy)
    assert eager is not lazy and eager.delivery == PayloadHeader.DELIVERY_EAGER
    assert bytes(eager.inline_payload) == b'A' * 1000
    assert checksum(bytes(eager.inline_payload)) == eager.checksum
    assert (eager.stream, eager.seq, eager.fetch_service) == ('/cam', 0, '/src/fetch')
    assert lazy.delivery == PayloadHeader.DELIVERY_LAZY and not lazy.inline_payload  # kept
    assert inliner.counts == {'inlined': 1, 'inline_bytes': 1000, 'over_budget': 0,
                              'unreadable': 0}
    inliner.close()


def test_same_host_readers_and_foreign_payloads_stay_lazy(ring):
    inliner = Inliner(HERE, 1 << 20)
    assert not inliner.start(HERE)  # reads the ring itself
    lazy = _header(ring, b'B' * 10)
    assert inliner.header(lazy) is lazy
    assert inliner.start('')  # a reader without shared memory
    foreign = _header(ring, b'C' * 10, host='host-c')  # not this host's ring
    assert inliner.header(foreign) is foreign
    assert not Inliner(HERE, 0).start('host-b')  # inlining off
    assert inliner.counts['inlined'] == 0


def test_the_budget_bounds_one_answer_and_the_next_answer_starts_afresh(ring):
    headers = [_header(ring, bytes([i]) * 600) for i in range(3)]
    inliner = Inliner(HERE, 1300)
    inliner.start('host-b')
    out = [inliner.header(h) for h in headers]
    assert [h.delivery for h in out] == [PayloadHeader.DELIVERY_EAGER] * 2 + [
        PayloadHeader.DELIVERY_LAZY]
    assert inliner.counts['over_budget'] == 1
    inliner.start('host-b')
    assert inliner.header(headers[2]).delivery == PayloadHeader.DELIVERY_EAGER
    inliner.close()


def test_an_overwritten_slot_is_left_to_the_fetch(ring):
    first = _header(ring, b'D' * 1000)
    for _ in range(6):  # wrap around: seq 0 is gone
        ring.put([b'E' * 1000], 0.0)
    inliner = Inliner(HERE, 1 << 20)
    inliner.start('host-b')
    assert inliner.header(first) is first
    missing = _header(ring, b'F' * 10)
    missing.shm_name = 'edgeserve_0_gone'
    assert inliner.header(missing) is missing
    assert inliner.counts['unreadable'] == 2
    with pytest.raises(ValueError, match='budget'):
        Inliner(HERE, -1)
    inliner.close()

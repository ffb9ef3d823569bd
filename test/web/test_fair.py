"""Per-client round-robin into the decode pool: a flooder's backlog does not delay others."""

import asyncio
import gc
import threading
import weakref

from conftest import wait_for
import numpy as np
from web_support import png

from edgeserve_ros.web.fair import FairQueue
from edgeserve_ros.web.imaging import DecodePool, ImageError


def test_fair_queue_is_fifo_per_key_and_round_robin_across_keys():
    queue = FairQueue()
    for i in range(4):
        queue.push('flood', f'f{i}')
    queue.push('a', 'a0')
    queue.push('b', 'b0')
    queue.push('a', 'a1')
    assert len(queue) == 7 and queue.waiting() == {'flood': 4, 'a': 2, 'b': 1}
    order = [queue.pop() for _ in range(7)]
    assert order == ['f0', 'a0', 'b0', 'f1', 'a1', 'f2', 'f3']
    assert queue.pop() is None and len(queue) == 0 and queue.waiting() == {}


def test_fair_queue_remove_takes_one_waiting_item():
    queue = FairQueue()
    queue.push('a', 'x')
    queue.push('a', 'y')
    assert queue.remove('a', 'x') and not queue.remove('a', 'x') and not queue.remove('b', 'y')
    assert queue.remove('a', 'y') and len(queue) == 0 and queue.waiting() == {}


def _image(width):
    return png(np.zeros((2, width, 3), np.uint8))


def test_a_small_client_is_decoded_before_a_flooders_backlog():
    """Flooder sends 6 images, then a small client 1: it is decoded second, not seventh."""
    pool = DecodePool(1, 16, 10_000, 100)
    gate = threading.Event()
    pool._pool.submit(gate.wait)  # hold the one thread until every decode is queued
    done = []

    async def one(client, width):
        image = await pool.decode(_image(width), client)
        done.append((client, image.width))

    async def main():
        tasks = [asyncio.ensure_future(one('flood', 10 + i)) for i in range(6)]
        await asyncio.sleep(0)
        tasks.append(asyncio.ensure_future(one('small', 99)))
        await asyncio.sleep(0)
        assert pool._waiting.waiting() == {'flood': 5, 'small': 1}  # flood's first has a thread
        gate.set()
        await asyncio.gather(*tasks)
    try:
        asyncio.run(main())
    finally:
        gate.set()
        pool.close()
    assert done[:3] == [('flood', 10), ('flood', 11), ('small', 99)]
    assert [w for c, w in done if c == 'flood'] == list(range(10, 16))  # in order per client
    assert pool._slots.acquire(blocking=False) and pool._running == 0


def test_decode_errors_and_a_shut_down_pool_answer_each_waiter():
    pool = DecodePool(2, 4, 10_000, 100)

    async def main():
        results = await asyncio.gather(pool.decode(b'not an image', 'a'),
                                       pool.decode(_image(3), 'b'), return_exceptions=True)
        pool.close()
        late = await asyncio.gather(pool.decode(_image(3), 'c'), return_exceptions=True)
        return results + late
    bad, good, late = asyncio.run(main())
    assert isinstance(bad, ImageError) and bad.status == 415
    assert good.width == 3
    assert isinstance(late, ImageError) and late.status == 503 and 'shutting down' in str(late)
    for _ in range(4):  # every slot came back
        assert pool._slots.acquire(blocking=False)


def test_a_finished_decode_leaves_no_reference_cycle_holding_the_image():
    """Under load the cyclic GC runs late: a cycle job <-> future kept decoded images alive."""
    pool = DecodePool(1, 4, 10_000, 100)

    async def main():
        image = await pool.decode(_image(7), 'a')
        return weakref.ref(image.array), image.width
    gc.disable()
    try:
        ref, width = asyncio.run(main())
        # With the cyclic GC off, a cycle would hold the image forever. The worker thread
        # still holds its work item (future -> result) until it loops back for the next job,
        # which beside CPU burners came after the loop had resumed this coroutine: wait for it.
        assert width == 7 and wait_for(lambda: ref() is None, 10.0), gc.get_referrers(ref())
    finally:
        gc.enable()
        pool.close()

"""
One image through the gateway, from upload to prediction.

Decode (bounded pool), reserve ring bytes, publish on the data plane through the
:class:`Backend`, wait for the prediction, release everything.

Every outcome is an item dict with a ``status`` (the HTTP code of that image) so HTTP,
async results and WebSocket frames report the same things the same way.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
import time
from typing import Any, Dict, List, Mapping, Protocol, Sequence

import numpy as np

from .admission import Admission, Rejected, Ticket
from .imaging import DecodePool, ImageError
from .limits import Limits
from .metrics import BATCH_BUCKETS, LATENCY_BUCKETS, Registry
from .rate import RateShare
from .results import ResultStore
from .uploads import Upload

#: prediction keys copied into an item
RESULT_KEYS = ('label', 'proba', 'classes', 'extra', 'processing_s', 'batch', 'worker')


class Backend(Protocol):
    """What the web side needs from the ROS side (the gateway node)."""

    def models(self) -> List[str]:
        """Return the model names clients may address."""
        ...  # pragma: no cover

    def ring_budget(self) -> int:
        """Return the decoded bytes that may wait in the payload rings at once."""
        ...  # pragma: no cover

    def submit(self, model: str, image: np.ndarray) -> 'Future[Dict[str, Any]]':
        """Publish ``image`` on ``model``'s stream; the Future gets its prediction JSON."""
        ...  # pragma: no cover

    def health(self) -> Dict[str, Any]:
        """Return per-model readiness (e.g. subscriber counts)."""
        ...  # pragma: no cover


def _metrics() -> Registry:
    reg = Registry()
    reg.counter('edgeserve_web_requests_total', 'HTTP requests and WebSocket frames by route '
                'and status code.')
    reg.counter('edgeserve_web_images_total', 'Images answered, by model and status code.')
    reg.counter('edgeserve_web_shed_total', 'Images refused by admission, by reason.')
    reg.counter('edgeserve_web_paced_total', 'WebSocket frames read late to hold the socket to '
                'client_rate while other clients are active.')
    reg.histogram('edgeserve_web_latency_seconds', 'Arrival to prediction of one image.',
                  LATENCY_BUCKETS)
    reg.histogram('edgeserve_web_batch_size', 'Model batch size each prediction came in.',
                  BATCH_BUCKETS)
    return reg


class InferenceService:
    """Shared state of the app: admission, decode pool, async results, metrics."""

    def __init__(self, backend: Backend, limits: Limits) -> None:
        self.backend, self.limits = backend, limits
        self.admission = Admission(limits.max_queue, limits.max_client_queue,
                                   backend.ring_budget())
        self.pool = DecodePool(limits.decode_workers, limits.max_queue, limits.max_pixels,
                               limits.max_side)
        self.rate = RateShare(limits.client_rate, limits.max_client_queue)
        self.store = ResultStore(limits.max_results, limits.result_ttl)
        self.metrics = _metrics()
        self.metrics.gauge('edgeserve_web_queue_depth', 'Images admitted and not yet answered.',
                           lambda: self.admission.depth)
        self.metrics.gauge('edgeserve_web_ring_bytes', 'Decoded image bytes reserved.',
                           lambda: self.admission.nbytes)
        self.metrics.gauge('edgeserve_web_async_results', 'Async results held.',
                           lambda: len(self.store))
        self.tasks: 'set[asyncio.Task[Any]]' = set()

    def shed(self, exc: Rejected, count: int = 1) -> None:
        """Count ``count`` images refused for ``exc.reason``."""
        self.metrics.inc('edgeserve_web_shed_total', count, reason=exc.reason)

    async def run(self, model: str, ticket: Ticket, upload: Upload) -> Dict[str, Any]:
        """Return the item dict of one upload (never raises but for cancellation)."""
        begin = time.perf_counter()
        item: Dict[str, Any] = {'name': upload.name}
        try:
            image = await self.pool.decode(upload.data, ticket.client)
            item.update(width=image.width, height=image.height, format=image.format)
            self.admission.reserve(ticket, image.array.nbytes)
            future = self.backend.submit(model, image.array)
            try:
                prediction = await asyncio.wait_for(asyncio.wrap_future(future),
                                                    self.limits.result_timeout)
            finally:
                future.cancel()
            item.update({k: prediction[k] for k in RESULT_KEYS if k in prediction})
            item['status'] = 200
            self.metrics.observe('edgeserve_web_batch_size', float(prediction.get('batch', 1)))
        except ImageError as exc:
            item.update(status=exc.status, error=str(exc))
        except Rejected as exc:
            self.shed(exc)
            item.update(status=429, error=str(exc), retry_after=exc.retry_after)
        except asyncio.TimeoutError:
            item.update(status=504, error=f'no prediction within {self.limits.result_timeout} s')
        seconds = time.perf_counter() - begin
        item['latency_ms'] = round(seconds * 1e3, 3)
        self.metrics.inc('edgeserve_web_images_total', model=model, code=str(item['status']))
        if item['status'] == 200:
            self.metrics.observe('edgeserve_web_latency_seconds', seconds, model=model)
        return item

    async def run_all(self, model: str, ticket: Ticket,
                      uploads: List[Upload]) -> List[Dict[str, Any]]:
        """Run every upload of one request concurrently; release the ticket after."""
        begin = time.perf_counter()
        try:
            items = await asyncio.gather(*(self.run(model, ticket, u) for u in uploads))
        finally:
            self.admission.release(ticket, time.perf_counter() - begin)
        for index, item in enumerate(items):
            item['index'] = index
        return list(items)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def overall_status(items: Sequence[Mapping[str, Any]]) -> int:
    """One image: its own code; several: 200 when all succeeded, else 207."""
    if len(items) == 1:
        return int(items[0]['status'])
    return 200 if all(i['status'] == 200 for i in items) else 207

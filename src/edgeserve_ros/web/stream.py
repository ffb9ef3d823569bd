"""
``WS /v1/models/{model}/stream``: frames in, results out in order, several in flight.

The reader admits a frame and starts its task; a sender awaits the tasks in arrival
order and sends each result. At most ``ws_in_flight`` frames of a socket are in flight:
past it the reader stops reading, so a fast client is slowed by TCP, not queued; while
other clients are active it also waits out the socket's ``client_rate`` pace
(:mod:`.rate`). A send that blocks longer than ``send_timeout`` (a client that reads
nothing) closes the socket and frees everything it held. Frame format and close codes:
:mod:`.frames`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Optional, Tuple

from starlette.websockets import WebSocket, WebSocketDisconnect

from .admission import Rejected
from .frames import CLOSE_POLICY, CLOSE_TRY_LATER, CLOSE_UNSUPPORTED, FrameError, split_frame
from .uploads import Upload

_SOCKETS = itertools.count()
Queued = Optional[Tuple[int, 'asyncio.Task[Any]']]


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    try:
        await ws.close(code, reason[:120])
    except (RuntimeError, WebSocketDisconnect, OSError):
        pass  # already closed by the peer


async def _send_loop(ws: WebSocket, queue: 'asyncio.Queue[Queued]',
                     slots: asyncio.Semaphore, send_timeout: float) -> None:
    while True:
        queued = await queue.get()
        if queued is None:
            return
        frame_id, task = queued
        item = await task
        item['id'] = frame_id
        try:
            await asyncio.wait_for(ws.send_text(json.dumps(item)), send_timeout)
        except asyncio.TimeoutError:
            await _close(ws, CLOSE_TRY_LATER, f'client read nothing for {send_timeout} s')
            return
        except (RuntimeError, WebSocketDisconnect, OSError):
            return  # the peer left
        finally:
            slots.release()


async def stream_endpoint(ws: WebSocket) -> None:
    """Serve one WebSocket until either side closes."""
    svc = ws.app.state.service
    ok, proto = ws.app.state.auth.check_websocket(
        ws.headers.get('authorization'), ws.scope.get('subprotocols') or [],
        ws.query_params.get('token'))
    await ws.accept(subprotocol=proto)
    model = ws.path_params['model']
    route = 'stream'
    if not ok:
        svc.metrics.inc('edgeserve_web_requests_total', route=route, code='1008')
        return await _close(ws, CLOSE_POLICY, 'missing or wrong bearer token')
    if model not in svc.backend.models():
        svc.metrics.inc('edgeserve_web_requests_total', route=route, code='1008')
        return await _close(ws, CLOSE_POLICY, f'unknown model {model!r}')
    client = f'ws-{next(_SOCKETS)}'
    slots = asyncio.Semaphore(svc.limits.ws_in_flight)
    queue: 'asyncio.Queue[Queued]' = asyncio.Queue()
    sender = asyncio.create_task(_send_loop(ws, queue, slots, svc.limits.send_timeout))
    tasks = []
    code = 1000
    try:
        while not sender.done():
            message = await ws.receive()
            if message['type'] == 'websocket.disconnect':
                break
            if message.get('bytes') is None:
                raise FrameError(CLOSE_UNSUPPORTED, 'send binary frames (4-byte id + image)')
            frame_id, image = split_frame(message['bytes'], svc.limits.max_frame_bytes)
            delay = svc.rate.charge(client)
            if delay > 0:  # over its share while others are active: read the next one later
                svc.metrics.inc('edgeserve_web_paced_total')
                await asyncio.sleep(delay)
            await slots.acquire()
            ticket = svc.admission.acquire(client, 1)
            task = asyncio.create_task(svc.run_all(model, ticket, [Upload(image, str(frame_id))]))
            tasks.append((task, ticket))
            await queue.put((frame_id, asyncio.create_task(_first(task))))
            tasks = [(t, k) for t, k in tasks if not t.done()]
    except FrameError as exc:
        code = exc.code
        await _close(ws, exc.code, str(exc))
    except Rejected as exc:
        code = CLOSE_TRY_LATER
        svc.shed(exc)
        await _close(ws, CLOSE_TRY_LATER, f'{exc}; retry after {exc.retry_after} s')
    except WebSocketDisconnect:
        pass
    finally:
        svc.metrics.inc('edgeserve_web_requests_total', route=route, code=str(code))
        svc.rate.forget(client)
        sender.cancel()
        if queue.qsize():  # frames whose answers will never be sent: counted, not lost
            svc.metrics.inc('edgeserve_web_shed_total', queue.qsize(),
                            reason='socket_closed' if code != 1000 else 'client_left')
        for task, ticket in tasks:  # nobody reads the rest: free its tickets now (a task
            task.cancel()  # cancelled before it started never runs its own release)
            svc.admission.release(ticket)
        await asyncio.wait([sender])  # let it end: a cancelled task left pending is lost


async def _first(task: 'asyncio.Task[Any]') -> Any:
    return (await task)[0]

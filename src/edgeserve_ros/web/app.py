"""
The ASGI app: HTTP routes, the WebSocket route (:mod:`.stream`) and the page.

Starlette rather than FastAPI: every hot path here takes raw bytes (image bodies, binary
WebSocket frames) that no schema validates, so FastAPI's pydantic layer would only add
per-request work and a dependency; Starlette is what FastAPI runs on, with the same
routing, multipart parser, WebSocket and static-file support, and nothing else.

Routes: ``POST /v1/models/{model}/infer`` (raw body or multipart, ``?async=1`` or
``Prefer: respond-async`` for 202 + id), ``GET /v1/results/{id}``, ``GET /v1/models``,
``GET /healthz``, ``GET /metrics``, ``WS /v1/models/{model}/stream``, ``GET /`` (page).
"""

from __future__ import annotations

import pathlib
from typing import Any, Dict, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from .admission import Rejected
from .auth import TokenAuth
from .limits import Limits
from .results import StoreFull
from .service import Backend, InferenceService, overall_status
from .stream import stream_endpoint
from .uploads import parse_multipart, read_body, Upload, UploadError

STATIC_DIR = pathlib.Path(__file__).resolve().parent / 'static'


def _error(status: int, message: str, retry_after: Optional[int] = None) -> JSONResponse:
    headers = {'Retry-After': str(retry_after)} if retry_after is not None else None
    if status == 401:
        headers = {'WWW-Authenticate': 'Bearer'}
    return JSONResponse({'error': message, 'status': status}, status, headers=headers)


def _service(request: Any) -> InferenceService:
    return request.app.state.service


def _count(request: Request, route: str, response: Response) -> Response:
    _service(request).metrics.inc('edgeserve_web_requests_total', route=route,
                                  code=str(response.status_code))
    return response


async def infer(request: Request) -> Response:
    """POST /v1/models/{model}/infer."""
    return _count(request, 'infer', await _infer(request))


async def _infer(request: Request) -> Response:
    svc = _service(request)
    if not request.app.state.auth.check_header(request.headers.get('authorization')):
        return _error(401, 'missing or wrong bearer token')
    model = request.path_params['model']
    if model not in svc.backend.models():
        return _error(404, f'unknown model {model!r}; known: {", ".join(svc.backend.models())}')
    limits: Limits = svc.limits
    try:
        body = await read_body(request.stream(), request.headers.get('content-length'),
                               limits.max_body_bytes)
        if request.headers.get('content-type', '').startswith('multipart/form-data'):
            uploads = await parse_multipart(request.headers, body, limits.max_files,
                                            limits.max_body_bytes)
        elif body:
            uploads = [Upload(body, 'image-0')]
        else:
            raise UploadError(400, 'empty body: send an image or a multipart form')
    except UploadError as exc:
        return _error(exc.status, str(exc))
    client = request.client.host if request.client else 'unknown'
    svc.rate.touch(client)  # active: streaming sockets beside it are held to their share
    try:
        ticket = svc.admission.acquire(client, len(uploads))
    except Rejected as exc:
        svc.shed(exc, len(uploads))
        return _error(429, str(exc), exc.retry_after)
    if request.query_params.get('async') in ('1', 'true') or \
            'respond-async' in request.headers.get('prefer', ''):
        try:
            entry = svc.store.create()
        except StoreFull as exc:
            svc.admission.release(ticket)
            return _error(429, str(exc), svc.admission.retry_after())
        svc.spawn(_finish_async(svc, entry.id, model, ticket, uploads))
        return JSONResponse({'id': entry.id, 'status': 'pending',
                             'result_url': f'/v1/results/{entry.id}'}, 202)
    items = await svc.run_all(model, ticket, uploads)
    return JSONResponse({'model': model, 'results': items}, overall_status(items))


async def _finish_async(svc: InferenceService, entry_id: str, model: str, ticket: Any,
                        uploads: Any) -> None:
    items = await svc.run_all(model, ticket, uploads)
    svc.store.finish(entry_id, overall_status(items), {'model': model, 'results': items})


async def result(request: Request) -> Response:
    """GET /v1/results/{id}."""
    if not request.app.state.auth.check_header(request.headers.get('authorization')):
        return _count(request, 'result', _error(401, 'missing or wrong bearer token'))
    entry = _service(request).store.get(request.path_params['id'])
    if entry is None:
        response: Response = _error(404, 'unknown or expired result id')
    elif entry.status == 'pending':
        response = JSONResponse({'id': entry.id, 'status': 'pending'}, 202)
    else:
        response = JSONResponse({'id': entry.id, 'status': 'done', **entry.body}, entry.code)
    return _count(request, 'result', response)


async def models(request: Request) -> Response:
    """GET /v1/models: names and the limits a client should respect."""
    svc = _service(request)
    limits: Dict[str, Any] = {k: getattr(svc.limits, k) for k in (
        'max_body_bytes', 'max_files', 'max_frame_bytes', 'max_pixels', 'ws_in_flight',
        'client_rate')}
    return JSONResponse({'models': svc.backend.models(), 'limits': limits,
                         'auth': request.app.state.auth.required})


async def healthz(request: Request) -> Response:
    """GET /healthz: 200 while the gateway runs, with per-model readiness."""
    svc = _service(request)
    return JSONResponse({'status': 'ok', 'queue_depth': svc.admission.depth,
                         'models': svc.backend.health()})


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text."""
    return PlainTextResponse(_service(request).metrics.render(),
                             media_type='text/plain; version=0.0.4')


async def page(request: Request) -> Response:
    """GET /: the upload page."""
    return FileResponse(STATIC_DIR / 'index.html')


def build_app(backend: Backend, limits: Limits, auth: TokenAuth) -> Starlette:
    """Return the Starlette app serving ``backend``."""
    app = Starlette(routes=[
        Route('/v1/models/{model}/infer', infer, methods=['POST']),
        Route('/v1/results/{id}', result),
        Route('/v1/models', models),
        Route('/healthz', healthz),
        Route('/metrics', metrics),
        WebSocketRoute('/v1/models/{model}/stream', stream_endpoint),
        Route('/', page),
        Mount('/static', StaticFiles(directory=STATIC_DIR), name='static'),
    ])
    app.state.service = InferenceService(backend, limits)
    app.state.auth = auth
    return app

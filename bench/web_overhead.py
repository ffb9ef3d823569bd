"""
Gateway overhead per frame without a model (issue 8), and the data plane's on top of it.

Frames: the seed-000 video (640x480 JPEG, as ``web_seed000``), one per request over HTTP
(``POST /v1/models/{model}/infer``, raw body, keep-alive ``http.client``) and one per
WebSocket message in lock step (the next frame is sent when the answer to the last one
came), ``--frames`` each:

- ``gateway``: the gateway's web side alone (``build_app`` on real uvicorn, in a child
  process as in the gateway node, without ROS) with a backend whose prediction is ready
  the moment the image is submitted: what is measured is HTTP/WebSocket, upload parsing,
  admission, decoding (bounded pool), the prediction's JSON and the reply;
- ``data plane``: the ``web_gateway_node`` process and a ``model_node`` running
  ``fixed_delay`` with 0 ms (no model work): adds the payload ring, the header over DDS, the
  model node's fetch and the prediction back over DDS.

Per frame: the client's round trip (send to answer parsed) and the gateway's own
``latency_ms`` (arrival at the service to prediction). Writes
``bench/results/web_overhead.{md,csv,png}``.

    scripts/dev bench web_overhead [--frames 500]
"""

import argparse
import asyncio
from concurrent.futures import Future
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import _common as C
import websockets

from edgeserve_ros.web.app import build_app
from edgeserve_ros.web.auth import TokenAuth
from edgeserve_ros.web.frames import make_frame
from edgeserve_ros.web.limits import Limits
from edgeserve_ros.web.server import WebServer
import web_seed000

NAME = 'web_overhead'
TARGET_MS = 2.0


class InstantBackend:
    """A backend whose prediction is ready at submit: the gateway without a model."""

    def models(self):
        return ['noop']

    def ring_budget(self):
        return 1 << 30

    def submit(self, model, image):
        future = Future()
        future.set_result({'label': 'none', 'batch': 1, 'processing_s': 0.0})
        return future

    def health(self):
        return {'noop': {'ready': True}}


async def http_frames(url, model, frames):
    """Return (client round trips, gateway latencies) of one request per frame, in turn.

    The client is the standard library's keep-alive ``http.client`` (httpx's async client
    added about 0.5 ms of its own per request here: the client is not what is measured).
    """
    trips, inside = [], []
    host, port = url.split('//', 1)[1].rsplit(':', 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        for frame in frames:
            begin = time.perf_counter()
            conn.request('POST', f'/v1/models/{model}/infer', body=frame,
                         headers={'content-type': 'image/jpeg'})
            r = conn.getresponse()
            body = r.read()
            trips.append(time.perf_counter() - begin)
            assert r.status == 200, body
            inside.append(json.loads(body)['results'][0]['latency_ms'] * 1e-3)
    finally:
        conn.close()
    return trips, inside


async def ws_frames(url, model, frames):
    """Return (client round trips, gateway latencies) of one frame in flight at a time."""
    trips, inside = [], []
    uri = url.replace('http', 'ws') + f'/v1/models/{model}/stream'
    async with websockets.connect(uri, max_size=1 << 22) as ws:
        for i, frame in enumerate(frames):
            begin = time.perf_counter()
            await ws.send(make_frame(i, frame))
            answer = json.loads(await ws.recv())
            trips.append(time.perf_counter() - begin)
            assert answer['status'] == 200 and answer['id'] == i, answer
            inside.append(answer['latency_ms'] * 1e-3)
    return trips, inside


def measure(path, url, model, frames, rows):
    """Run both protocols against ``url`` (a warm-up of 20 frames first) into ``rows``."""
    for proto, run in (('http', http_frames), ('ws', ws_frames)):
        # the last protocol's client counts as active for RateShare's active_s (1 s): a
        # socket is paced to client_rate while another client is active (web/rate.py)
        time.sleep(1.5)
        asyncio.run(run(url, model, frames[:20]))
        trips, inside = asyncio.run(run(url, model, frames))
        row = [path, proto, len(trips)] + [
            round(C.percentile(sorted(v), q) * 1e3, 3) for v in (trips, inside)
            for q in (50, 99)]
        rows.append(row)
        C.progress(f'{path} {proto}: round trip p50 {row[3]} ms, p99 {row[4]} ms; '
                   f'gateway p50 {row[5]} ms')


def serve():
    """Serve (child) the web side on uvicorn with :class:`InstantBackend` until stdin closes."""
    limits = Limits()
    app = build_app(InstantBackend(), limits, TokenAuth('', '127.0.0.1'))
    server = WebServer(app, '127.0.0.1', 0, limits.max_frame_bytes + 4, lambda level, m: None)
    server.start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()
    return 0


def gateway_alone(frames, rows):
    """Measure the web side in its own process (as the gateway node runs it) from here."""
    child = subprocess.Popen([sys.executable, __file__, '--role', 'serve'],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()
        assert url.startswith('http://'), f'the serving child said {url!r}'
        measure('gateway', url, 'noop', frames, rows)
    finally:
        child.stdin.close()
        child.wait(timeout=20)


def data_plane(frames, rows, domain):
    """Measure the gateway node and a 0 ms model node, both real processes."""
    with tempfile.TemporaryDirectory() as tmp:
        url, procs = web_seed000.start(tmp, domain, modes={'noop': (1, 0.0)},
                                       params={'delay_ms': 0, 'per_item_ms': 0},
                                       gateway={'ws_in_flight': 1})
        try:
            measure('data plane', url, 'noop', frames, rows)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=20)


def report(rows, count):
    headers = ['path', 'protocol', 'frames', 'round_trip_p50_ms', 'round_trip_p99_ms',
               'gateway_p50_ms', 'gateway_p99_ms']
    C.write_csv(NAME, headers, rows)
    by = {(r[0], r[1]): r for r in rows}
    targets = [(f'gateway overhead per frame without a model, {p}: client round trip p50 '
                f'<= {TARGET_MS:g} ms', f'{by["gateway", p][3]} ms (gateway\'s own '
                f'{by["gateway", p][5]} ms)', by['gateway', p][3] <= TARGET_MS)
               for p in ('http', 'ws')]
    fig, ax = C.pyplot().subplots(figsize=(7, 3.5))
    labels = [f'{r[0]}\n{r[1]}' for r in rows]
    ax.bar(labels, [r[3] for r in rows], label='client round trip p50')
    ax.bar(labels, [r[5] for r in rows], width=0.4, label='inside the gateway p50')
    ax.axhline(TARGET_MS, color='k', linestyle='--', linewidth=0.8, label='target')
    ax.set_ylabel('ms per frame')
    ax.legend()
    C.save_figure(fig, NAME)
    C.write_md(NAME, 'Web gateway overhead per frame, no model', [
        ('Targets (issue 8)', C.targets_table(targets)),
        ('Results', C.md_table(headers, rows)),
        ('Method', __doc__.split('\n\n', 1)[1].rsplit('\n\n', 1)[0]
         + f'\n\n{count} frames per row after 20 warm-up frames; the client runs in the '
           'same 2-core host.')], C.machine_info())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--frames', type=int, default=500)
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 48)))
    parser.add_argument('--role', default='main', choices=('main', 'serve'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == 'serve':
        return serve()
    frames = web_seed000.render(args.frames)
    C.progress(f'{len(frames)} frames, {sum(map(len, frames)) / len(frames) / 1024:.0f} KiB '
               'each')
    rows = []
    gateway_alone(frames, rows)
    data_plane(frames, rows, args.domain)
    report(rows, len(frames))
    C.progress(f'wrote {C.result_path(NAME, "md")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

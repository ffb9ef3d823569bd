"""
Seed-000 replay: video frames over HTTP and WebSocket, batch 1 / client batch 16 / dynamic.

A rendered 640x480 video (``--frames``, seed: 573) is sent as JPEG frames to
``web_gateway_node``; a stand-in model (``fixed_delay``: 150 ms per batch + 4 ms per image,
like a captioning model) runs in a ``model_node`` per mode: ``batch1`` (max_batch 1, one
frame at a time), ``client16`` (the client sends 16 frames per request / 16 before reading)
and ``dynamic`` (16 frames in flight from independent requests, the model node batches them:
max_batch 16, max_delay 20 ms). Writes bench/results/web_seed000.{md,csv,png}.

    scripts/dev run python bench/web_seed000.py [--frames 573]
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import _common as C
import cv2
import httpx
import numpy as np
import websockets
import yaml

from edgeserve_ros.web.frames import make_frame
from edgeserve_ros.web.rate import ACTIVE_S

MODES = {'batch1': (1, 0.0), 'client16': (16, 0.05), 'dynamic': (16, 0.02)}


def render(count):
    frames = []
    for i in range(count):
        img = np.full((480, 640, 3), 40, np.uint8)
        x = int(320 + 250 * np.sin(i / 20))
        cv2.circle(img, (x, 240), 60, (0, 180, 255), -1)
        cv2.putText(img, f'frame {i}', (20, 460), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255,) * 3, 2)
        frames.append(cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return frames


SEED_GATEWAY = {'ws_in_flight': 16, 'max_client_queue': 32, 'max_queue': 64}


def start(tmp, domain, modes=None, params=None, gateway=None):
    """Start one fixed_delay model_node per mode and the gateway; return (url, procs).

    ``modes``: name -> (max_batch, max_delay); ``params``: fixed_delay parameters;
    ``gateway``: web_gateway_node parameters. The defaults are this benchmark's. The
    gateway is the last process (``procs[-1]``).
    """
    modes = MODES if modes is None else modes
    params = {'delay_ms': 150, 'per_item_ms': 4} if params is None else params
    gateway = SEED_GATEWAY if gateway is None else gateway
    models = [{'name': m, 'kind': 'function', 'target': 'edgeserve_ros.models.zoo.fixed_delay',
               'params': dict(params), 'inputs': ['image']}
              for m in modes]
    path = os.path.join(tmp, 'models.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump({'models': models}, f)
    env, procs = C.child_env(domain), []
    for mode, (batch, delay) in modes.items():
        procs.append(subprocess.Popen(
            [sys.executable, '-m', 'edgeserve_ros.models.model_node', '--ros-args', '-r',
             f'__node:={mode}_model', '-p', f'model_file:={path}', '-p', f'model:={mode}',
             '-p', 'input_kind:=stream', '-p', f'input:=/web/{mode}/images', '-p',
             f'output_stream:=/web/{mode}/predictions', '-p', f'max_batch:={batch}', '-p',
             f'max_delay:={delay}'], env=env, stderr=subprocess.DEVNULL))
    port_file = os.path.join(tmp, 'port')
    procs.append(subprocess.Popen(
        [sys.executable, '-m', 'edgeserve_ros.web.web_gateway_node', '--ros-args', '-p',
         'port:=0', '-p', f'port_file:={port_file}', '-p', f'models:=[{",".join(modes)}]',
         *[a for k, v in gateway.items() for a in ('-p', f'{k}:={v}')]],
        env=env, stderr=subprocess.DEVNULL))
    url = ''

    def ready():
        nonlocal url
        if not os.path.exists(port_file) or not open(port_file).read().strip():
            return False
        url = f'http://127.0.0.1:{open(port_file).read().strip()}'
        return all(m['ready'] for m in httpx.get(f'{url}/healthz').json()['models'].values())
    C.wait_until(ready, 180)
    return url, procs


async def http_run(url, mode, frames):
    lat = []
    async with httpx.AsyncClient(timeout=120) as client:
        async def post(chunk):
            begin = time.perf_counter()
            files = [('f', (f'{i}.jpg', f, 'image/jpeg')) for i, f in enumerate(chunk)]
            r = await client.post(f'{url}/v1/models/{mode}/infer', files=files)
            assert r.status_code == 200, r.text
            lat.extend([time.perf_counter() - begin] * len(chunk))
        if mode == 'client16':
            for i in range(0, len(frames), 16):
                await post(frames[i:i + 16])
        else:
            todo = iter(frames)

            async def worker():
                for frame in todo:
                    await post([frame])
            await asyncio.gather(*(worker() for _ in range(1 if mode == 'batch1' else 16)))
    return lat


async def ws_run(url, mode, frames, window=None):
    """Stream ``frames``; ``window`` frames in flight (default: the mode's)."""
    window = window or {'batch1': 1, 'client16': 16, 'dynamic': 16}[mode]
    sent, lat = {}, []
    uri = url.replace('http', 'ws') + f'/v1/models/{mode}/stream'
    async with websockets.connect(uri, max_size=1 << 22) as ws:
        i = 0
        while len(lat) < len(frames):
            room = (window if not sent else 0) if mode == 'client16' else window - len(sent)
            for frame in frames[i:i + room]:
                sent[i] = time.perf_counter()
                await ws.send(make_frame(i, frame))
                i += 1
            answer = json.loads(await ws.recv())
            assert answer['status'] == 200, answer
            lat.append(time.perf_counter() - sent.pop(answer['id']))
    return lat


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--frames', type=int, default=573)
    parser.add_argument('--ws-window', type=int, default=2,
                        help='frames in flight of the streaming WebSocket row at batch 1 '
                             '(0: no such row)')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 47)))
    args = parser.parse_args()
    frames = render(args.frames)
    C.progress(f'{len(frames)} frames, {sum(map(len, frames)) / len(frames) / 1024:.0f} KiB each')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url, procs = start(tmp, args.domain)
        try:
            for mode in MODES:
                for proto, run in (('http', http_run), ('ws', ws_run)):
                    # each run alone: a client that sent within the last ACTIVE_S counts as
                    # active, and beside it a socket is held to its client_rate share
                    time.sleep(ACTIVE_S + 0.5)
                    begin = time.perf_counter()
                    lat = asyncio.run(run(url, mode, frames))
                    total = time.perf_counter() - begin
                    assert len(lat) == len(frames)
                    rows.append([proto, mode, len(frames), round(total, 3),
                                 round(len(frames) / total, 2),
                                 round(C.percentile(lat, 50) * 1e3, 1)])
                    C.progress(f'{proto} {mode}: {total:.2f} s')
            if args.ws_window:
                time.sleep(ACTIVE_S + 0.5)
                begin = time.perf_counter()
                lat = asyncio.run(ws_run(url, 'batch1', frames, args.ws_window))
                total = time.perf_counter() - begin
                assert len(lat) == len(frames)
                rows.append([f'ws-stream{args.ws_window}', 'batch1', len(frames),
                             round(total, 3), round(len(frames) / total, 2),
                             round(C.percentile(lat, 50) * 1e3, 1)])
                C.progress(f'ws, {args.ws_window} in flight, batch1: {total:.2f} s')
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=20)
    headers = ['protocol', 'mode', 'frames', 'total_s', 'frames_per_s', 'latency_p50_ms']
    C.write_csv('web_seed000', headers, rows)
    t = {(r[0], r[1]): r[3] for r in rows}
    targets = [
        ['dynamic batching vs batch 1 (HTTP)', '>= 5.6x (seed 5.64x)',
         f'{t["http", "batch1"] / t["http", "dynamic"]:.2f}x'],
        ['dynamic batching vs batch 1 (WS)', '>= 5.6x',
         f'{t["ws", "batch1"] / t["ws", "dynamic"]:.2f}x'],
        ['WS / HTTP total time, batch 1', '<= 0.9 (seed 1.035)',
         f'{t["ws", "batch1"] / t["http", "batch1"]:.3f}'],
        ['WS / HTTP total time, client batch 16', '<= 1.0 (seed 1.31)',
         f'{t["ws", "client16"] / t["http", "client16"]:.3f}'],
    ]
    stream = f'ws-stream{args.ws_window}'
    if (stream, 'batch1') in t:
        targets.insert(3, [f'WS streaming ({args.ws_window} frames in flight) / HTTP (one '
                           'request at a time) total time, batch 1', '<= 0.9',
                           f'{t[stream, "batch1"] / t["http", "batch1"]:.3f}'])
    fig, ax = C.pyplot().subplots(figsize=(7, 3.5))
    for k, proto in enumerate(('http', 'ws')):
        vals = [t[proto, m] for m in MODES]
        ax.bar(np.arange(3) + 0.38 * k, vals, 0.38, label=proto)
    if (stream, 'batch1') in t:
        ax.bar([0.76], [t[stream, 'batch1']], 0.3, label=stream)
    ax.set_xticks(np.arange(3) + 0.19, list(MODES))
    ax.set_ylabel(f'total seconds, {len(frames)} frames')
    ax.legend()
    C.save_figure(fig, 'web_seed000')
    C.write_md('web_seed000', 'Seed-000 replay: HTTP vs WebSocket, batching', [
        ('Setup', __doc__.split('\n\n')[1] + '\n\nAt batch 1 the HTTP client sends one request '
         'and waits for its answer, as the seed did; the WebSocket client in lock step (one '
         f'frame in flight: `ws`) and streaming ({args.ws_window} in flight: '
         f'`{stream}`), what the socket is for: the next frame crosses the network, is decoded '
         'and waits in the model\'s queue while the model runs on the current one; the model '
         'node still runs one frame at a time (max_batch 1). Runs are '
         f'{ACTIVE_S + 0.5:g} s apart, so each client is alone: a client that sent within '
         f'the last {ACTIVE_S:g} s counts as active, and beside an active client a '
         'WebSocket is held to its `client_rate` share (10 frames/s). Before this gap the '
         'WebSocket run of each mode began while the HTTP client of that mode still counted '
         'as active, and was paced for its first second.'),
        ('Results', C.md_table(headers, rows)),
        ('Targets (issue 8)', C.md_table(['target', 'wanted', 'measured'], targets))],
        C.machine_info())


if __name__ == '__main__':
    main()

"""
Load: many WebSocket clients of 640x480 JPEG at 10 fps; gateway memory; one flooding client.

One ``web_gateway_node`` with the limits of ``config/web.yaml`` (``gateway:``) and one
cheap stand-in model (``fixed_delay``: 1 ms per batch, ``max_batch`` 16, ``max_delay``
2 ms) in a ``model_node``, started the way ``web_seed000`` starts them, so the gateway
(decode, ring, admission, WebSocket I/O), not the model, is what is loaded. The clients
run in this process (one asyncio loop, ``websockets``) and send binary frames ``>I id`` +
JPEG (frames rendered here with OpenCV, nothing downloaded). Three phases, one run:

- ``load``: ``--clients`` (50) paced clients at ``--fps`` (10) for ``--seconds`` (60), each
  with up to ``ws_in_flight`` frames in flight (the protocol's window); a tick whose window
  is full is not sent (counted ``window_full``, like the page's webcam tab).
- ``fair_base``: ``--small`` (8) paced clients alone for ``--fair-seconds`` (15).
- ``fair_flood``: the same small clients beside one flooder that sends without pacing and
  without a window (``await send`` back to back: only TCP slows it), in its own process.
  ``--fair-reps`` (3) interleaved base/flood pairs; the ratio of the small clients' p99
  (flood / base) is taken per pair and the median reported (the host is shared).

Per client and frame: ``answered`` (status 200), ``shed`` (an explicit 429 item, or in
flight on a socket the gateway closed with 1013: docs/web.md), ``error`` (another status),
``lost`` (none of these ``--grace`` s after the client stopped sending, or in flight on a
socket closed with another code). A client closed with 1013 waits the ``retry after N s``
of the close reason and reconnects (ticks meanwhile: ``backoff``). Gateway RSS is read
from ``/proc/<pid>/status`` once a second. Writes bench/results/web_load.{md,csv,png} and
web_load_rss.csv.
"""

import argparse
import asyncio
import json
import os
import random
import re
import tempfile
import threading
import time

import _common as C
import cv2
import httpx
import numpy as np
import websockets
import yaml

import web_seed000
from edgeserve_ros.web.frames import make_frame

W, H = 640, 480
MODEL = 'load'
MODEL_BATCH = (16, 0.002)
MODEL_PARAMS = {'delay_ms': 1, 'per_item_ms': 0}
GATEWAY_KEYS = ('max_frame_bytes', 'max_queue', 'max_client_queue', 'ws_in_flight',
                'decode_workers', 'result_timeout', 'ring_bytes', 'send_timeout', 'client_rate')
UVICORN_WS_MAX_QUEUE = 32  # uvicorn.Config default: messages buffered per socket unread
ROOT = os.path.dirname(C.BENCH_DIR)


def render(count, seed=8):
    """Return ``count`` distinct 640x480 JPEGs, about 50 KiB like a camera frame.

    Moving shapes on blurred noise, JPEG quality 85.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        img = cv2.GaussianBlur(rng.integers(0, 60, (H, W, 3), dtype=np.uint8), (3, 3), 0)
        x = int(320 + 250 * np.sin(i / 7))
        cv2.circle(img, (x, 240), 70, (0, 180, 255), -1)
        cv2.rectangle(img, (40, 40 + i % 200), (200, 140 + i % 200), (255, 80, 40), -1)
        cv2.putText(img, f'load {i}', (20, 460), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255,) * 3, 2)
        frames.append(cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return frames


def gateway_config():
    with open(os.path.join(ROOT, 'config', 'web.yaml')) as f:
        gw = yaml.safe_load(f)['gateway']
    return {k: gw[k] for k in GATEWAY_KEYS if k in gw}


# -- clients ----------------------------------------------------------------------------

class Client:
    """One WebSocket client; counts every frame it sends by outcome."""

    def __init__(self, name, kind, fps, window):
        self.name, self.kind, self.fps, self.window = name, kind, fps, window
        self.sent = self.answered = self.shed_item = self.shed_close = self.lost = 0
        self.errors = self.window_full = self.backoff = self.closes_1013 = 0
        self.other_closes = []
        self.unknown_ids = 0
        self.lat = []  # (answer time, latency s)
        self.server_lat = []  # the answer's latency_ms: admission to prediction, s
        self.error_kinds = {}  # 'status error text' -> count
        self.err_t = []  # answer times of error answers
        self.next_id = 0

    async def _read(self, ws, out):
        try:
            async for text in ws:
                now = time.perf_counter()
                answer = json.loads(text)
                begin = out.pop(answer.get('id'), None)
                if begin is None:
                    self.unknown_ids += 1
                elif answer.get('status') == 200:
                    self.answered += 1
                    self.lat.append((now, now - begin))
                    self.server_lat.append(float(answer.get('latency_ms', 'nan')) / 1e3)
                elif answer.get('status') == 429:
                    self.shed_item += 1
                else:
                    self.errors += 1
                    self.err_t.append(now)
                    key = f"{answer.get('status')} {str(answer.get('error'))[:60]}"
                    self.error_kinds[key] = self.error_kinds.get(key, 0) + 1
            return ws.close_code or 1000, ws.close_reason or ''
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (1006, 'no close frame')

    async def _send(self, ws, out, frames, t_end, reader):
        period = 1.0 / self.fps if self.fps else 0.0
        tick = time.perf_counter() + random.random() * period
        while not reader.done():
            now = time.perf_counter()
            if now >= t_end:
                return
            if period:
                if tick > now:
                    await asyncio.sleep(tick - now)
                    continue
                tick += period
                if len(out) >= self.window:
                    self.window_full += 1
                    continue
            fid = self.next_id
            self.next_id += 1
            out[fid] = time.perf_counter()
            self.sent += 1
            await ws.send(make_frame(fid, frames[fid % len(frames)]))
            if not period:
                await asyncio.sleep(0)  # let the others run; no pacing otherwise

    async def run(self, uri, frames, t_end, grace):
        while time.perf_counter() < t_end:
            out = {}
            try:
                async with websockets.connect(uri, max_size=1 << 22, open_timeout=20,
                                              ping_interval=None) as ws:
                    reader = asyncio.create_task(self._read(ws, out))
                    try:
                        await self._send(ws, out, frames, t_end, reader)
                    except websockets.ConnectionClosed:
                        pass
                    if not reader.done():  # we stopped sending: wait for the rest
                        deadline = time.perf_counter() + grace
                        while out and not reader.done() and time.perf_counter() < deadline:
                            await asyncio.sleep(0.05)
                    if not reader.done():
                        self.lost += len(out)
                        out.clear()
                        reader.cancel()
                        return
                    code, reason = reader.result()
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake) as exc:
                code, reason = 1006, f'connect: {exc!r}'
            if code == 1013:
                self.closes_1013 += 1
                self.shed_close += len(out)
                match = re.search(r'retry after (\d+)', reason)
                wait = float(match.group(1)) if match else 1.0
            else:
                self.other_closes.append(f'{code} {reason}'[:80])
                self.lost += len(out)
                wait = 1.0
            out.clear()
            resume = time.perf_counter() + wait * (0.5 + random.random())
            if self.fps:
                self.backoff += int(max(0.0, min(resume, t_end) - time.perf_counter())
                                    * self.fps)
            await asyncio.sleep(max(0.0, min(resume, t_end) - time.perf_counter()))

    def row(self, phase):
        lat = [x[1] for x in self.lat]
        pct = (lambda q: round(C.percentile(lat, q) * 1e3, 1) if lat else float('nan'))
        return [phase, self.name, self.kind, self.fps or 'max', self.sent, self.answered,
                self.shed_item, self.shed_close, self.errors, self.lost, self.window_full,
                self.backoff, self.closes_1013, len(self.other_closes), pct(50), pct(99)]


CLIENT_HEADERS = ['phase', 'client', 'kind', 'fps', 'sent', 'answered', 'shed_429',
                  'shed_1013', 'errors', 'lost', 'window_full', 'backoff', 'closes_1013',
                  'other_closes', 'p50_ms', 'p99_ms']


COUNTS = ('sent', 'answered', 'shed_item', 'shed_close', 'errors', 'lost', 'window_full',
          'backoff', 'closes_1013', 'other_closes', 'lat', 'server_lat', 'unknown_ids',
          'error_kinds', 'err_t')


def flood_child(args):
    """Child: one flooding client in its own process (its own event loop and GIL)."""
    frames = render(args.distinct)
    C.emit('ready')
    for cmd in C.read_commands():
        client = Client('flood', 'flood', 0, 0)
        asyncio.run(run_phase(cmd['uri'], frames, [client], cmd['seconds'], cmd['grace']))
        C.emit('done', **{k: getattr(client, k) for k in COUNTS})
    return C.child_exit(0)


class RemoteFlood:
    """Parent side of :func:`flood_child`."""

    def __init__(self, args):
        self.child = C.JsonChild(C.self_argv(__file__, 'flood', [
            '--distinct', args.distinct]), name='flood')
        self.child.expect('ready', 60)

    def go(self, uri, seconds, grace):
        self.child.send(uri=uri, seconds=seconds, grace=grace)

    def result(self, timeout):
        client = Client('flood', 'flood', 0, 0)
        for k, v in self.child.expect('done', timeout).items():
            if k in COUNTS:
                setattr(client, k, v)
        self.child.stop()
        return client


async def run_phase(uri, frames, clients, seconds, grace):
    t0 = time.perf_counter()
    t_end = t0 + seconds
    await asyncio.gather(*(c.run(uri, frames, t_end, grace) for c in clients))
    return t0, time.perf_counter() - t0


# -- gateway memory ---------------------------------------------------------------------

class RssSampler(threading.Thread):
    """Reads VmRSS/RssAnon/RssFile/RssShmem (KiB) of ``pid`` and the load average each second."""

    FIELDS = ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem')

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.phase, self.samples = pid, 'idle', []
        self.t0 = time.perf_counter()
        self._halt = threading.Event()

    def read(self):
        values = {}
        with open(f'/proc/{self.pid}/status') as f:
            for line in f:
                key = line.split(':', 1)[0]
                if key in self.FIELDS:
                    values[key] = int(line.split()[1]) * 1024
        return values

    def sample(self):
        try:
            v = self.read()
        except OSError:
            return
        self.samples.append([round(time.perf_counter() - self.t0, 2), self.phase]
                            + [v.get(k, 0) for k in self.FIELDS] + [os.getloadavg()[0]])

    def run(self):
        while not self._halt.wait(1.0):
            self.sample()

    def stop(self):
        self._halt.set()
        self.join(3)


RSS_HEADERS = ['t_s', 'phase', 'vmrss_b', 'rss_anon_b', 'rss_file_b', 'rss_shmem_b', 'load1']


def scrape(url):
    """Return the gateway's shed and stream counters from /metrics."""
    out = {}
    for line in httpx.get(f'{url}/metrics', timeout=10).text.splitlines():
        if line.startswith(('edgeserve_web_shed_total{', 'edgeserve_web_requests_total{'
                            'route="stream"', 'edgeserve_web_images_total{')):
            key, value = line.rsplit(' ', 1)
            out[key] = float(value)
    return out


def diff(after, before):
    return {k: int(v - before.get(k, 0)) for k, v in after.items() if v - before.get(k, 0)}


# -- run and report ---------------------------------------------------------------------

def run_gateway(args, label, frames, gw, plan, res):
    """Start a gateway and the model, warm up, run the phases of ``plan``, stop them."""
    with tempfile.TemporaryDirectory() as tmp:
        url, procs = web_seed000.start(tmp, args.domain, {MODEL: MODEL_BATCH}, MODEL_PARAMS, gw)
        gateway = procs[-1]
        rss = None
        try:
            health = httpx.get(f'{url}/healthz', timeout=10).json()
            if not health['models'][MODEL]['ready']:
                raise RuntimeError(f'model not ready: {health}')
            uri = url.replace('http', 'ws') + f'/v1/models/{MODEL}/stream'
            rss = RssSampler(gateway.pid)
            rss.start()
            # warm-up: one client, a few frames (imports, first decode, ring mapping)
            warm = Client('warm', 'warm', 10, gw['ws_in_flight'])
            asyncio.run(run_phase(uri, frames, [warm], 3, 5))
            time.sleep(2)
            rss.sample()
            base = rss.samples[-1]
            res['baseline'][label] = base
            C.progress(f'gateway {label}: pid {gateway.pid} at {url}; baseline RSS '
                       f'{base[2] / C.MIB:.0f} MiB (anon {base[3] / C.MIB:.0f}, shmem '
                       f'{base[5] / C.MIB:.0f})')
            window = gw['ws_in_flight']
            for phase in plan:
                if phase == 'load':
                    clients = [Client(f'c{i:02d}', 'load', args.fps, window)
                               for i in range(args.clients)]
                    seconds = args.seconds
                else:
                    clients = [Client(f's{i}', 'small', args.fps, window)
                               for i in range(args.small)]
                    seconds = args.fair_seconds
                flood = RemoteFlood(args) if phase.startswith('fair_flood') else None
                C.progress(f'{phase}: {len(clients) + bool(flood)} clients for {seconds} s ...')
                before = scrape(url)
                rss.phase = phase
                load_before = os.getloadavg()
                if flood:
                    flood.go(uri, seconds, args.grace)
                t0, wall = asyncio.run(run_phase(uri, frames, clients, seconds, args.grace))
                if flood:
                    clients.append(flood.result(seconds + args.grace + 60))
                rss.phase = 'idle'
                time.sleep(1.5)
                metrics = diff(scrape(url), before)
                tot = {k: sum(getattr(c, k) for c in clients) for k in (
                    'sent', 'answered', 'shed_item', 'shed_close', 'errors', 'lost',
                    'window_full', 'closes_1013')}
                res['phases'][phase] = {'clients': clients, 'seconds': seconds, 'wall': wall,
                                        't0': t0, 'metrics': metrics, 'load': os.getloadavg(),
                                        'load_before': load_before, 'gateway': label}
                C.progress(f'{phase}: ' + ', '.join(f'{k} {v}' for k, v in tot.items())
                           + f'; load average {os.getloadavg()[0]:.2f}')
            time.sleep(2)
            rss.sample()
            res['alive'][label] = gateway.poll() is None
        finally:
            if rss is not None:
                rss.stop()
                res['rss'][label] = rss.samples
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except Exception:  # noqa: BLE001
                    p.kill()


def run(args):
    frames = render(args.distinct)
    frame_bytes = max(map(len, frames))
    C.progress(f'{len(frames)} distinct {W}x{H} JPEG frames, '
               f'{np.mean([len(f) for f in frames]) / 1024:.0f} KiB mean, '
               f'{frame_bytes / 1024:.0f} KiB max')
    gw = gateway_config()
    if args.ws_in_flight:
        gw['ws_in_flight'] = args.ws_in_flight
    if args.client_rate:
        gw['client_rate'] = args.client_rate
    res = {'gw': gw, 'frame_bytes': frame_bytes, 'baseline': {}, 'rss': {}, 'alive': {},
           'frame_mean': float(np.mean([len(f) for f in frames])), 'phases': {}}
    fair = [f'{p}#{r}' for r in range(1, args.fair_reps + 1) for p in ('fair_base', 'fair_flood')]
    plans = ([('A', ['load'] + fair)] if args.one_gateway
             else [('A', ['load']), ('B', fair)])
    for label, plan in plans:
        run_gateway(args, label, frames, gw, plan, res)
    return res


def budget(gw, frame_bytes, clients):
    """Return the gateway's memory bound over its idle RSS, by part (bytes)."""
    decoded = W * H * 3
    return {
        'ring (ring_bytes, shared memory, written cyclically)': gw['ring_bytes'],
        'decoded images admitted (max_queue x 640x480x3)': gw['max_queue'] * decoded,
        'encoded frames per socket (clients x (ws_in_flight + 1 + uvicorn ws_max_queue 32) '
        'x max frame)': clients * (gw['ws_in_flight'] + 1 + UVICORN_WS_MAX_QUEUE) * frame_bytes,
    }


def findings(phases, everyone):
    """Return the causes of missed targets that this run's numbers point to."""
    out = []
    kinds = _merge([c.error_kinds for c in everyone])
    leak = sum(v for k, v in kinds.items() if 'decode queue full' in k)
    closes = sum(c.closes_1013 for c in everyone)
    if leak:
        out.append(
            f'- **{leak} frames answered 503 `decode queue full`** (after {closes} closes '
            '1013). Admission (`max_queue`) should make this impossible (docs/web.md: '
            '"admission normally prevents it"). Cause: `web/imaging.py` `DecodePool.decode` '
            'gives its slot back only in `_run`\'s `finally`; when a queued decode is '
            'cancelled before a worker starts it (`web/stream.py` `stream_endpoint` cancels '
            'every task of a socket it closes with 1013, or whose peer left), '
            '`asyncio.wrap_future` cancels the thread-pool future, `_run` never runs and the '
            'slot is lost for good. The pool\'s capacity (`max_queue` slots) shrinks with '
            'every such close and does not come back: later frames, even on a quiet gateway, '
            'get 503. Not fixed here (gateway code).')
    shed_close = sum(c.shed_close for c in everyone)
    shed_metric = sum(v for ph in phases.values() for k, v in ph['metrics'].items()
                      if k.startswith('edgeserve_web_shed_total'))
    if shed_close > shed_metric:
        out.append(
            f'- Clients lost {shed_close} in-flight frames to closes 1013; the gateway\'s '
            f'`edgeserve_web_shed_total` grew by {shed_metric} (one per refused frame): the '
            'frames in flight on a socket closed with 1013 are dropped without being counted '
            'in `edgeserve_web_shed_total` or `edgeserve_web_images_total`.')
    if True:
        sb = [x for p, ph in phases.items() if p.startswith('fair_base') for c in ph['clients']
              if c.kind == 'small' for x in c.server_lat]
        sf = [x for p, ph in phases.items() if p.startswith('fair_flood') for c in ph['clients']
              if c.kind == 'small' for x in c.server_lat]
        if sb and sf:
            out.append(
                f'- Fairness: the small clients\' p99 inside the gateway (answer `latency_ms`) '
                f'went from {pct_ms(sb, 99)} to {pct_ms(sf, 99)} ms with the flooder, so most '
                'of the rise is in the gateway, not on the client side. Admission caps the '
                'flooder at `ws_in_flight` frames, but decoding (a FIFO pool of '
                '`decode_workers` threads) and the model\'s batches serve frames in arrival '
                'order with no per-client share, so a small client\'s frame waits behind up '
                'to `ws_in_flight` flooder frames; and on 2 shared cores the flooder process '
                'and the extra decoding take CPU from everything else.')
    return '\n'.join(out) or 'none'


def _merge(dicts):
    out = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def pct_ms(values, q):
    return round(C.percentile(values, q) * 1e3, 1) if values else float('nan')


def report(args, res, wall):
    gw, phases = res['gw'], res['phases']
    rows, agg_rows = [], []
    for phase, ph in phases.items():
        for c in ph['clients']:
            rows.append(c.row(phase))
        kinds = sorted({c.kind for c in ph['clients']},
                       key=['load', 'small', 'flood'].index)
        for kind in kinds:
            cs = [c for c in ph['clients'] if c.kind == kind]
            lat = [x[1] for c in cs for x in c.lat]
            s = lambda k: sum(getattr(c, k) for c in cs)  # noqa: E731
            agg_rows.append([phase, kind, len(cs), args.fps if kind != 'flood' else 'max',
                             ph['seconds'], s('sent'), s('answered'), s('shed_item'),
                             s('shed_close'), s('errors'), s('lost'), s('window_full'),
                             s('backoff'), s('closes_1013'),
                             sum(len(c.other_closes) for c in cs),
                             C.fmt(s('answered') / ph['seconds'], 1),
                             pct_ms(lat, 50), pct_ms(lat, 99),
                             pct_ms([x for c in cs for x in c.server_lat], 99),
                             C.fmt(ph['load'][0], 2)])
    agg_headers = ['phase', 'clients', 'n', 'fps each', 'seconds', 'sent', 'answered',
                   'shed 429', 'shed 1013', 'errors', 'lost', 'not sent: window full',
                   'not sent: backoff', '1013 closes', 'other closes', 'answered/s',
                   'p50 ms', 'p99 ms', 'gateway p99 ms', 'load avg 1 min after']
    C.write_csv(args.name, CLIENT_HEADERS, rows)
    C.write_csv(args.name + '_rss', ['gateway'] + RSS_HEADERS,
                [[g] + r for g, rows_ in res['rss'].items() for r in rows_])

    # memory
    base = res['baseline']['A']
    rss_a = res['rss']['A']
    load_samples = [s for s in rss_a if s[0] >= base[0]]
    peak = max(load_samples, key=lambda s: s[2])
    parts = budget(gw, res['frame_bytes'], args.clients)
    total_budget = sum(parts.values())
    heap_budget = total_budget - gw['ring_bytes']
    growth, anon_growth = peak[2] - base[2], max(s[3] for s in load_samples) - base[3]
    shm_growth = max(s[5] for s in load_samples) - base[5]
    end = rss_a[-1]
    mem_rows = [['baseline (after warm-up, idle)', *[f'{v / C.MIB:.1f}' for v in base[2:6]]],
                [f'peak VmRSS (t={peak[0]:.0f} s, {peak[1]})',
                 *[f'{v / C.MIB:.1f}' for v in peak[2:6]]],
                ['last sample (idle, after all phases)', *[f'{v / C.MIB:.1f}' for v in end[2:6]]]]
    budget_rows = [[k, f'{v / C.MIB:.1f}'] for k, v in parts.items()]
    budget_rows.append(['**total bound over baseline**', f'{total_budget / C.MIB:.1f}'])

    gw_b = ''
    if 'B' in res['rss'] and res['rss']['B']:
        bb, rb = res['baseline']['B'], res['rss']['B']
        gw_b = (f' Gateway B (fairness phases): baseline {bb[2] / C.MIB:.1f} MiB, peak '
                f'{max(r[2] for r in rb) / C.MIB:.1f} MiB (RssAnon peak '
                f'{max(r[3] for r in rb) / C.MIB:.1f}).')

    # fairness
    def small_lat(name):
        return [x[1] for c in phases[name]['clients'] if c.kind == 'small' for x in c.lat]

    small = {k: [x for p in phases if p.startswith(k) for x in small_lat(p)]
             for k in ('fair_base', 'fair_flood')}
    p99 = {p: C.percentile(v, 99) if v else float('nan') for p, v in small.items()}
    pooled_ratio = C.ratio(p99['fair_flood'], p99['fair_base'])
    rep_ratios = [C.ratio(C.percentile(small_lat(f'fair_flood#{r}'), 99),
                          C.percentile(small_lat(f'fair_base#{r}'), 99))
                  for r in range(1, args.fair_reps + 1)]
    fair_ratio = float(np.median(rep_ratios))
    floods = [c for p, ph in phases.items() if p.startswith('fair_flood')
              for c in ph['clients'] if c.kind == 'flood']
    everyone = [c for ph in phases.values() for c in ph['clients']]
    lost = sum(c.lost for c in everyone)
    load_clients = phases['load']['clients']
    offered = args.clients * args.fps * args.seconds
    answered = sum(c.answered for c in load_clients)
    targets = [
        ('every frame answered or explicitly shed (lost == 0, all phases)',
         f'lost {lost} of {sum(c.sent for c in everyone)} sent', lost == 0),
        ('no error answers (every refusal a 429 item or a close 1013)',
         f'{sum(c.errors for c in everyone)} errors' + ''.join(
             f'; {k} x{v}' for k, v in _merge([c.error_kinds for c in everyone]).items()),
         sum(c.errors for c in everyone) == 0),
        ('gateway A peak RSS <= baseline + 1.1 x bound',
         f'+{growth / C.MIB:.1f} MiB over baseline {base[2] / C.MIB:.1f} MiB; 1.1 x bound = '
         f'{1.1 * total_budget / C.MIB:.1f} MiB', growth <= 1.1 * total_budget),
        ('(part) anonymous memory growth <= 1.1 x non-ring bound',
         f'+{anon_growth / C.MIB:.1f} MiB; 1.1 x {heap_budget / C.MIB:.1f} MiB',
         anon_growth <= 1.1 * heap_budget),
        (f'small clients p99 with / without flooder <= 1.5 (median of {args.fair_reps} '
         'interleaved pairs)',
         f'{C.fmt(fair_ratio, 2)} (pairs: {", ".join(C.fmt(r, 2) for r in rep_ratios)}; '
         f'pooled {C.fmt(pooled_ratio, 2)} = {pct_ms(small["fair_flood"], 99)} / '
         f'{pct_ms(small["fair_base"], 99)} ms)', fair_ratio <= 1.5),
        (f'(info) load phase: answered of offered {args.clients} x {args.fps} fps x '
         f'{args.seconds} s', f'{answered} of {offered} ({100 * answered / offered:.1f}%), '
         f'{answered / args.seconds:.1f}/s', None),
        ('(info) flooder answered/s beside the small clients',
         f'{sum(c.answered for c in floods) / (args.fair_seconds * len(floods)):.1f}/s '
         f'({sum(c.sent for c in floods)} sent)', None),
    ]

    # plot
    plt = C.pyplot()
    fig, (a1, a3, a2) = plt.subplots(1, 3, figsize=(16, 4.2))
    t = np.array([s[0] for s in rss_a])
    for idx, label in ((2, 'VmRSS'), (3, 'RssAnon'), (5, 'RssShmem')):
        a1.plot(t, [s[idx] / C.MIB for s in rss_a], label=f'{label} (gateway A)')
    if 'B' in res['rss']:
        a1.plot([s[0] for s in res['rss']['B']], [s[2] / C.MIB for s in res['rss']['B']],
                'k:', label='VmRSS (gateway B, fairness)')
    a1.axhline((base[2] + 1.1 * total_budget) / C.MIB, color='r', ls='--',
               label='baseline + 1.1 x bound')
    for k, phase in enumerate(phases):
        ts = [s[0] for s in rss_a if s[1] == phase]
        if ts and phases[phase]['gateway'] == 'A':
            a1.axvspan(min(ts), max(ts), color=f'C{k + 3}', alpha=0.12)
            a1.text(min(ts), 10, f' {phase} (A)', fontsize=7)
    a1.set_xlabel('seconds since the gateway was ready')
    a1.set_ylabel('gateway MiB')
    a1.set_title('gateway RSS, 1 s samples (t from each gateway\'s start)')
    a1.legend(fontsize=8)
    for p, v in small.items():
        if v:
            xs = np.sort(np.array(v) * 1e3)
            a2.plot(xs, np.arange(1, len(xs) + 1) / len(xs), label=f'{p} (p99 '
                    f'{C.percentile(v, 99) * 1e3:.0f} ms)')
    a2.set_xscale('log')
    a2.set_xlabel('small clients frame latency, ms (log)')
    a2.set_ylabel('fraction of frames')
    a2.set_title(f'{args.small} small clients at {args.fps} fps, with/without a flooder')
    a2.legend(fontsize=8)
    ph = phases['load']
    edges = np.arange(0, ph['wall'] + 1.0, 1.0)
    for name, times in (('answered (200)', [x[0] for c in ph['clients'] for x in c.lat]),
                        ('error answers (503)', [x for c in ph['clients'] for x in c.err_t])):
        counts, _ = np.histogram(np.array(times) - ph['t0'], edges)
        a3.plot(edges[:-1], counts, label=name)
    a3.set_xlabel('seconds into the load phase')
    a3.set_ylabel('frames per second')
    a3.set_title(f'load phase, {args.clients} clients at {args.fps} fps')
    a3.legend(fontsize=8)
    C.save_figure(fig, args.name)

    other = sorted({r for c in everyone for r in c.other_closes})
    metrics_rows = [[p, ', '.join(f'{k} {v}' for k, v in sorted(ph['metrics'].items()))
                     or '-'] for p, ph in phases.items()]
    loads = ', '.join(f'{p} {ph["load_before"][0]:.2f} -> {ph["load"][0]:.2f}'
                      for p, ph in phases.items())
    method = (__doc__.split('\n\n', 1)[1].strip() + f"""

Gateway parameters (config/web.yaml `gateway:`): {', '.join(f'{k} {v}' for k, v in gw.items())}.
Frames: {args.distinct} distinct renders, mean {res['frame_mean'] / 1024:.0f} KiB, max
{res['frame_bytes'] / 1024:.0f} KiB. Warm-up: one client for 3 s before the baseline.
Latency: client send to answer received, answered frames only; `gateway p99` is the
answer's own `latency_ms` (admission to prediction inside the gateway). The flooder runs in
a child process of its own, so its sending does not delay the small clients' event loop.
Grace after the last send: {args.grace} s. Unless `--one-gateway`, the fairness phases run
on a fresh gateway (B) so that what the load phase leaves behind does not carry over.

**Memory bound.** The gateway has no single byte budget; the bound is summed from its
limits: the payload ring is one shared-memory file of `ring_bytes` per model stream that
publishing writes cyclically (its pages count in RSS as `RssShmem` once written, so after
one lap the whole ring is resident), decoded images are held while admitted (at most
`max_queue`, each 640x480x3; the byte budget `ring_bytes / 2` is looser here), and encoded
frames wait per socket in the stream handler (`ws_in_flight` + the one awaiting a slot) and
in uvicorn's WebSocket buffer (`ws_max_queue`, uvicorn's default 32 messages, not a gateway
parameter). Python objects, sockets and allocator slack are not in the bound; the 10% is
for them. The bound is over the idle RSS after warm-up. Peak is the highest 1-s sample.

**Machine load.** 2 shared cores: the clients (this process), the gateway and the model
node share them, with other work beside. Load average (1 min) before -> after each phase:
{loads}. Latencies and rates are upper bounds / lower bounds of what the gateway does on
its own.""")
    sections = [
        ('Targets (issue 8)', C.targets_table(targets)),
        ('Results by phase and client kind', C.md_table(agg_headers, agg_rows)),
        ('Gateway memory (MiB)', C.md_table(['when', 'VmRSS', 'RssAnon', 'RssFile',
                                             'RssShmem'], mem_rows)
         + '\n\nBound over baseline (MiB):\n\n' + C.md_table(['part', 'MiB'], budget_rows)
         + f'\n\nGrowth at peak: VmRSS +{growth / C.MIB:.1f}, RssAnon +'
           f'{anon_growth / C.MIB:.1f}, RssShmem +{shm_growth / C.MIB:.1f} MiB. '
           f'Gateways still running at the end: {res["alive"]}.' + gw_b),
        ('Gateway counters per phase (/metrics deltas)', C.md_table(['phase', 'counters'],
                                                                    metrics_rows)),
        ('Closes other than 1013', '\n'.join(f'- `{r}`' for r in other) or 'none'),
        ('Error answers (status, text: count)', '\n'.join(
            f'- {p}: `{k}`: {v}' for p, ph in phases.items() for k, v in sorted(
                _merge([c.error_kinds for c in ph['clients']]).items())) or 'none'),
        ('Findings', findings(phases, everyone)),
        ('Method', method),
        ('Notes', args.notes or '-'),
    ]
    C.write_md(args.name, 'Load: 640x480 JPEG WebSocket clients, gateway memory, fairness',
               sections, C.machine_info({'run wall time': f'{wall:.0f} s',
                                         'websockets': websockets.__version__,
                                         'uvicorn': C._version('uvicorn'),
                                         'starlette': C._version('starlette'),
                                         'opencv': cv2.__version__}))
    print(C.targets_table(targets))
    print(C.md_table(agg_headers, agg_rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--quick', action='store_true', help='10 clients, 15 s, 8 s fairness')
    parser.add_argument('--clients', type=int)
    parser.add_argument('--seconds', type=float)
    parser.add_argument('--small', type=int)
    parser.add_argument('--fair-seconds', type=float)
    parser.add_argument('--fair-reps', type=int, help='fair_base/fair_flood pairs (3)')
    parser.add_argument('--fps', type=float, default=10.0)
    parser.add_argument('--grace', type=float, default=15.0)
    parser.add_argument('--distinct', type=int, default=60)
    parser.add_argument('--ws-in-flight', type=int, default=0,
                        help='override config/web.yaml ws_in_flight')
    parser.add_argument('--client-rate', type=float, default=0.0,
                        help='override config/web.yaml client_rate (frames/s per socket while '
                        'other clients are active)')
    parser.add_argument('--domain', type=int, default=96)
    parser.add_argument('--name')
    parser.add_argument('--notes', default='')
    parser.add_argument('--one-gateway', action='store_true',
                        help='all phases on one gateway (default: a fresh one for fairness)')
    parser.add_argument('--role', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == 'flood':
        return flood_child(args)
    q = args.quick
    args.clients = args.clients or (10 if q else 50)
    args.seconds = args.seconds or (15.0 if q else 60.0)
    args.small = args.small or (4 if q else 8)
    args.fair_seconds = args.fair_seconds or (8.0 if q else 15.0)
    args.fair_reps = args.fair_reps or (1 if q else 3)
    args.name = args.name or ('web_load_quick' if q else 'web_load')
    return C.run_and_report(args, run, report)


if __name__ == '__main__':
    raise SystemExit(main())

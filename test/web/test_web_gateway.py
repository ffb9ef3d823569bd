"""The gateway with real processes: uvicorn, model_node x4, DDS; real HTTP/WS clients."""

import concurrent.futures
import json
import os
import pathlib
import socket
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import next_domain_id, wait_for
from ros_processes import Processes
from web_support import bomb_png, digit_images, jpeg, png, qr_image, truncated_jpeg, WebStack

from edgeserve_ros.web.frames import make_frame

pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('web')
    procs = Processes(next_domain_id(), tmp)
    try:
        web = WebStack(procs, tmp)
        web.wait_ready()
        yield web
    finally:
        procs.close()


def _infer(stack, model, content, **kwargs):
    return httpx.post(f'{stack.url}/v1/models/{model}/infer', content=content,
                      headers=stack.headers(), timeout=90, **kwargs)


def test_http_round_trips(stack):
    r = _infer(stack, 'qr', png(qr_image('edgeserve web')))
    assert r.status_code == 200, r.text
    item = r.json()['results'][0]
    assert item['label'] == 'edgeserve web' and item['format'] == 'PNG'
    assert item['latency_ms'] > 0
    digits = digit_images(8)
    files = [('files', (f'../../etc/d{i}.png', png(img), 'image/png'))
             for i, (img, _) in enumerate(digits)]
    r = httpx.post(f'{stack.url}/v1/models/digits/infer', files=files, headers=stack.headers(),
                   timeout=90)
    assert r.status_code == 200, r.text
    results = r.json()['results']
    assert [x['index'] for x in results] == list(range(8))
    assert [x['name'] for x in results] == [f'd{i}.png' for i in range(8)]  # no path parts
    correct = sum(x['label'] == y for x, (_, y) in zip(results, digits))
    assert correct >= 6, results
    assert max(x['batch'] for x in results) > 1  # batched across the request's images


def test_async_result(stack):
    r = _infer(stack, 'qr', png(qr_image('later')), params={'async': '1'})
    assert r.status_code == 202, r.text
    url = f'{stack.url}{r.json()["result_url"]}'
    done = wait_for(lambda: httpx.get(url, headers=stack.headers()).status_code == 200, 90)
    assert done
    body = httpx.get(url, headers=stack.headers()).json()
    assert body['status'] == 'done' and body['results'][0]['label'] == 'later'
    assert httpx.get(f'{stack.url}/v1/results/nope', headers=stack.headers()).status_code == 404


def _raw_request(stack, head: bytes) -> bytes:
    port = int(stack.url.rsplit(':', 1)[1])
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(head)
        return sock.recv(4096)


def test_bad_inputs_get_their_codes_and_lose_nothing(stack):
    good = png(qr_image('steady'))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        steady = pool.submit(lambda: [_infer(stack, 'qr', good) for _ in range(6)])
        cases = {415: b'this is not an image', 422: truncated_jpeg(), 413: bomb_png()}
        for code, body in cases.items():
            r = _infer(stack, 'qr', body)
            assert r.status_code == code, r.text
            assert r.json()['results'][0]['error']
        assert _infer(stack, 'nope', good).status_code == 404
        r = httpx.post(f'{stack.url}/v1/models/qr/infer', content=good, timeout=10,
                       headers={'Authorization': 'Bearer wrong'})
        assert r.status_code == 401
        answer = _raw_request(stack, (
            f'POST /v1/models/qr/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer '
            f'{stack.token}\r\nContent-Length: {100 << 20}\r\n\r\n').encode())
        assert answer.startswith(b'HTTP/1.1 413'), answer[:200]
        files = [('f', (f'{i}.png', good, 'image/png')) for i in range(9)]  # client bound 8
        r = httpx.post(f'{stack.url}/v1/models/qr/infer', files=files, headers=stack.headers(),
                       timeout=90)
        assert r.status_code == 429 and int(r.headers['Retry-After']) >= 1, r.text
        results = steady.result(timeout=180)
    assert [r.status_code for r in results] == [200] * 6
    assert all(r.json()['results'][0]['label'] == 'steady' for r in results)
    metrics = httpx.get(f'{stack.url}/metrics').text
    assert 'edgeserve_web_shed_total{reason="client"} 9' in metrics
    assert httpx.get(f'{stack.url}/healthz').json()['queue_depth'] == 0


def _ws(stack, model, **kwargs):
    return connect(f'{stack.ws_url}/v1/models/{model}/stream', max_size=1 << 22, **kwargs)


def test_websocket_in_order_with_frames_in_flight(stack):
    digits = digit_images(20)
    proto = [f'bearer.{stack.token}']
    with _ws(stack, 'digits', subprotocols=proto) as ws:
        for i, (img, _) in enumerate(digits):
            ws.send(make_frame(1000 + i, jpeg(img, 95)))
        answers = [json.loads(ws.recv(timeout=90)) for _ in digits]
    assert [a['id'] for a in answers] == [1000 + i for i in range(20)]
    assert all(a['status'] == 200 for a in answers), answers
    assert sum(a['label'] == y for a, (_, y) in zip(answers, digits)) >= 16
    assert max(a['batch'] for a in answers) > 1  # several frames were in flight at once
    with connect(f'{stack.ws_url}/v1/models/qr/stream?token={stack.token}') as ws:
        ws.send(make_frame(7, b'not an image'))
        ws.send(make_frame(8, png(qr_image('ws'))))
        bad, good = json.loads(ws.recv(timeout=90)), json.loads(ws.recv(timeout=90))
    assert (bad['id'], bad['status'], good['id'], good['label']) == (7, 415, 8, 'ws')


def _close_code(ws, frames=()):
    try:
        for frame in frames:
            ws.send(frame)
        while True:
            ws.recv(timeout=90)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


def test_websocket_close_codes(stack):
    with _ws(stack, 'qr', subprotocols=['bearer.wrong']) as ws:
        assert _close_code(ws) == 1008
    with _ws(stack, 'qr') as ws:
        assert _close_code(ws) == 1008  # no token at all
    with _ws(stack, 'nope', subprotocols=[f'bearer.{stack.token}']) as ws:
        assert _close_code(ws) == 1008
    with _ws(stack, 'qr', subprotocols=[f'bearer.{stack.token}']) as ws:
        assert _close_code(ws, [make_frame(1, b'\0' * (3 << 20))]) == 1009
    image = png(qr_image('busy'))  # 'slow' takes 300 ms per image, one at a time
    files = [('f', (f'{i}.png', image, 'image/png')) for i in range(8)]
    r = httpx.post(f'{stack.url}/v1/models/slow/infer', files=files, headers=stack.headers(),
                   params={'async': '1'}, timeout=90)
    assert r.status_code == 202  # 8 of the 16 global slots for ~2.4 s
    proto = [f'bearer.{stack.token}']
    with _ws(stack, 'slow', subprotocols=proto) as first, \
            _ws(stack, 'slow', subprotocols=proto) as second:
        for i in range(6):
            first.send(make_frame(i, image))  # 6 more: 14 of 16
        assert wait_for(lambda: httpx.get(f'{stack.url}/healthz').json()['queue_depth'] == 14,
                        30)
        assert _close_code(second, [make_frame(i, image) for i in range(3)]) == 1013
    assert wait_for(lambda: httpx.get(f'{stack.url}/healthz').json()['queue_depth'] == 0, 60)


def test_client_that_reads_nothing_starves_nobody(stack):
    image = png(qr_image('reader'))
    with _ws(stack, 'qr', subprotocols=[f'bearer.{stack.token}']) as silent:
        sent = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and sent < 200:
            silent.send(make_frame(sent, image))
            sent += 1
        depth = httpx.get(f'{stack.url}/healthz').json()['queue_depth']
        assert depth <= 6  # ws_in_flight: the rest waits in TCP, not in the gateway
        with _ws(stack, 'qr', subprotocols=[f'bearer.{stack.token}']) as ws:
            for i in range(5):
                ws.send(make_frame(i, image))
            answers = [json.loads(ws.recv(timeout=90)) for _ in range(5)]
        assert [(a['id'], a['label']) for a in answers] == [(i, 'reader') for i in range(5)]
    assert wait_for(lambda: httpx.get(f'{stack.url}/healthz').json()['queue_depth'] == 0, 60)
    assert stack.procs.procs['web_gateway'].poll() is None


def _paced(stack):
    text = httpx.get(f'{stack.url}/metrics').text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith('edgeserve_web_paced_total'))


def test_flooding_socket_is_paced_while_another_client_streams(stack):
    image, proto = png(qr_image('pace')), [f'bearer.{stack.token}']
    paced_before = _paced(stack)
    with _ws(stack, 'qr', subprotocols=proto) as flood, \
            _ws(stack, 'qr', subprotocols=proto) as small:
        small.send(make_frame(0, image))  # the small client is active from here on
        assert json.loads(small.recv(timeout=90))['label'] == 'pace'
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            sending = pool.submit(lambda: [flood.send(make_frame(i, image)) for i in range(60)])
            answers = [json.loads(flood.recv(timeout=90)) for _ in range(60)]
            sending.result(timeout=90)
        small.send(make_frame(1, image))
        assert json.loads(small.recv(timeout=90))['id'] == 1
    # 60 frames beside an active client: over client_rate's burst (max_client_queue 8), read
    # late, not dropped; every answer comes, in order
    assert [(a['id'], a['status'], a['label']) for a in answers] == [
        (i, 200, 'pace') for i in range(60)]
    assert _paced(stack) - paced_before >= 1
    assert stack.procs.procs['web_gateway'].poll() is None


def test_public_address_without_token_exits_2(procs):
    procs.env.pop('EDGESERVE_WEB_TOKEN', None)
    proc = procs.start('edgeserve_ros.web.web_gateway_node', 'public_gateway', host='0.0.0.0',
                       port=0, models=['qr'])
    assert proc.wait(timeout=60) == 2
    log = procs.log('public_gateway')
    assert 'not loopback' in log and 'Traceback' not in log


CHROMIUM = pathlib.Path('/usr/bin/chromium')


@pytest.mark.skipif(not CHROMIUM.exists(), reason='no /usr/bin/chromium (apt install chromium)')
def test_page_uploads_five_images_in_chromium(stack, tmp_path):
    sync_api = pytest.importorskip('playwright.sync_api')
    paths = []
    for i in range(5):
        path = tmp_path / f'code{i}.png'
        path.write_bytes(png(qr_image(f'page {i}')))
        paths.append(str(path))
    # EDGESERVE_SCREENSHOT=bench/results/web_page.png refreshes the committed screenshot
    out = pathlib.Path(os.environ.get('EDGESERVE_SCREENSHOT', tmp_path / 'web_page.png'))
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={'width': 1000, 'height': 760})
            errors = []
            page.on('pageerror', lambda exc: errors.append(str(exc)))
            page.goto(f'{stack.url}/?model=qr&token={stack.token}')
            page.wait_for_function("document.getElementById('model').options.length === 3")
            page.set_input_files('#files', paths)
            page.wait_for_function("document.querySelectorAll('.card.done').length === 5",
                                   timeout=60_000)
            labels = sorted(page.locator('.card .label').all_inner_texts())
            page.wait_for_timeout(1100)  # one chart redraw with the results in it
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    assert labels == [f'page {i}' for i in range(5)]
    assert not errors
    assert out.stat().st_size > 10_000

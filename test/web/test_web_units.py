"""rclpy-free parts of the web gateway: limits, auth, admission, results, images, uploads."""

import asyncio

import numpy as np
import pytest
from starlette.datastructures import Headers
from web_support import bomb_png, jpeg, png, truncated_jpeg

from edgeserve_ros.web.admission import Admission, Rejected
from edgeserve_ros.web.auth import AuthConfigError, is_loopback, load_token, TokenAuth
from edgeserve_ros.web.frames import FrameError, make_frame, split_frame
from edgeserve_ros.web.imaging import decode, DecodePool, ImageError, probe, RAW_MAGIC
from edgeserve_ros.web.limits import Limits
from edgeserve_ros.web.metrics import Registry
from edgeserve_ros.web.pending import Pending
from edgeserve_ros.web.results import ResultStore, StoreFull
from edgeserve_ros.web.uploads import display_name, parse_multipart, read_body, UploadError


def test_limits_are_validated():
    with pytest.raises(ValueError, match='max_queue'):
        Limits(max_queue=0)
    with pytest.raises(ValueError, match='max_client_queue=9 must be <= max_queue=8'):
        Limits(max_queue=8, max_client_queue=9)


def test_token_auth(tmp_path):
    assert is_loopback('127.0.0.1') and is_loopback('::1') and not is_loopback('0.0.0.0')
    with pytest.raises(AuthConfigError, match='not loopback'):
        TokenAuth('', '0.0.0.0')
    assert TokenAuth('', '127.0.0.1').check_header(None)  # loopback without a token
    (tmp_path / 'token').write_text('s3cret\nignored\n')
    token = load_token(str(tmp_path / 'token'))
    assert token == 's3cret' and load_token('', 'TOK', {'TOK': ' env '}) == 'env'
    with pytest.raises(AuthConfigError, match='token_file'):
        load_token(str(tmp_path / 'missing'))
    auth = TokenAuth(token, '0.0.0.0')
    assert auth.check_header('Bearer s3cret') and auth.check_header('bearer s3cret')
    assert not auth.check_header('Bearer wrong') and not auth.check_header(None)
    assert not auth.check_header('Basic s3cret')
    assert auth.check_websocket(None, ['bearer.s3cret'], None) == (True, 'bearer.s3cret')
    assert auth.check_websocket(None, ['bearer.nope'], 's3cret') == (False, 'bearer.nope')
    assert auth.check_websocket(None, [], 's3cret') == (True, None)
    assert auth.check_websocket(None, [], None) == (False, None)


def test_admission_bounds_per_client_and_globally():
    adm = Admission(max_queue=4, max_client_queue=3, max_bytes=100)
    a = adm.acquire('a', 3)
    with pytest.raises(Rejected) as exc:
        adm.acquire('a')
    assert exc.value.reason == 'client' and exc.value.retry_after >= 1
    b = adm.acquire('b')
    with pytest.raises(Rejected) as exc:
        adm.acquire('c')
    assert exc.value.reason == 'global'
    adm.reserve(b, 60)
    with pytest.raises(Rejected, match='memory full'):
        adm.reserve(a, 60)
    adm.release(a, 0.5)
    adm.release(a, 0.5)  # twice: no effect
    adm.release(b)
    assert (adm.depth, adm.nbytes, adm.client_depth('a')) == (0, 0, 0)
    assert adm.shed == {'client': 1, 'global': 1, 'bytes': 1}


def test_result_store_bounds_and_expiry():
    now = [0.0]
    store = ResultStore(2, ttl=10.0, clock=lambda: now[0])
    first, second = store.create(), store.create()
    with pytest.raises(StoreFull):
        store.create()  # both pending: refused, never dropped
    store.finish(first.id, 200, {'x': 1})
    third = store.create()  # drops the finished one
    assert store.get(first.id) is None and store.dropped == 1
    store.finish(third.id, 200, {})
    now[0] = 11.0
    assert store.get(third.id) is None and store.get(second.id).status == 'pending'


def test_images_are_checked_before_decoding():
    image = np.zeros((30, 40, 3), np.uint8)
    image[:, :, 2] = 255  # red in BGR
    assert probe(png(image), 10_000, 100) == ('PNG', 40, 30)
    out = decode(png(image), 10_000, 100)
    assert out.array.shape == (30, 40, 3) and out.array[0, 0].tolist() == [0, 0, 255]
    assert decode(jpeg(image), 10_000, 100).format == 'JPEG'
    cases = [(b'GIF89a....', 415), (b'hello', 415), (truncated_jpeg(), 422),
             (bomb_png(), 413), (bomb_png(2000, 10), 413)]
    for data, status in cases:
        with pytest.raises(ImageError) as exc:
            decode(data, 1_000_000, 1000)
        assert exc.value.status == status, (data[:10], exc.value)
    with pytest.raises(ImageError, match='exceeds the limits'):
        probe(png(np.zeros((20, 20), np.uint8)), 399, 100)


def test_decoding_keeps_the_probed_size_and_refuses_broken_data():
    """Decode with OpenCV: gray and alpha become BGR, EXIF rotation not applied, cuts 422."""
    import io

    from PIL import Image
    noise = np.random.default_rng(1).integers(0, 255, (48, 64, 3), np.uint8)
    for data in (png(noise)[:-30], png(noise)[:len(png(noise)) // 2],
                 jpeg(noise)[:len(jpeg(noise)) // 2]):
        with pytest.raises(ImageError) as exc:
            decode(data, 1_000_000, 1000)
        assert exc.value.status == 422 and 'truncated or corrupt' in str(exc.value)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees on display
    Image.fromarray(noise).save(buf, 'JPEG', exif=exif)
    assert decode(buf.getvalue(), 1_000_000, 1000).array.shape == (48, 64, 3)
    rgba = io.BytesIO()
    Image.new('RGBA', (5, 4), (10, 20, 30, 128)).save(rgba, 'PNG')
    out = decode(rgba.getvalue(), 1000, 100).array
    assert out.shape == (4, 5, 3) and out[0, 0].tolist() == [30, 20, 10]
    gray = decode(png(np.full((4, 5), 77, np.uint8)), 1000, 100).array
    assert gray.shape == (4, 5, 3) and gray.flags['C_CONTIGUOUS']


def test_raw_frames():
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    frame = RAW_MAGIC + bytes([0, 3, 0, 2, 3]) + pixels.tobytes()
    assert np.array_equal(decode(frame, 100, 100).array, pixels)
    gray = RAW_MAGIC + bytes([0, 3, 0, 2, 1]) + bytes(6)
    assert decode(gray, 100, 100).array.shape == (2, 3, 3)
    with pytest.raises(ImageError, match='26 bytes, expected 27'):
        decode(frame[:-1], 100, 100)


def test_decode_pool_is_bounded():
    pool = DecodePool(1, 1, 10_000, 100)
    image = png(np.zeros((5, 5, 3), np.uint8))

    async def main():
        assert pool._slots.acquire(blocking=False)  # the one slot, as a decode in progress
        with pytest.raises(ImageError, match='queue full') as exc:
            await pool.decode(image)
        pool._slots.release()
        assert exc.value.status == 503
        return await pool.decode(image)
    try:
        assert asyncio.run(main()).width == 5
        assert pool._slots.acquire(blocking=False)  # the slot was given back
    finally:
        pool.close()


def test_cancelled_decodes_give_their_slots_back():
    """A socket closed with 1013 cancels its waiting decodes: their slots must come back."""
    import threading

    pool = DecodePool(1, 4, 10_000, 100)
    image = png(np.zeros((5, 5, 3), np.uint8))
    gate = threading.Event()
    pool._pool.submit(gate.wait)  # the one thread is busy: the next decodes wait in line

    async def main():
        waiting = [asyncio.ensure_future(pool.decode(image)) for _ in range(4)]
        await asyncio.sleep(0)  # they took their slots and queued
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        gate.set()
        return await asyncio.gather(*[pool.decode(image) for _ in range(4)])
    try:
        assert [d.width for d in asyncio.run(main())] == [5] * 4  # all 4 slots free again
    finally:
        gate.set()
        pool.close()


async def _chunks(parts):
    for part in parts:
        yield part


def test_bodies_and_multipart():
    assert asyncio.run(read_body(_chunks([b'ab', b'cd']), None, 4)) == b'abcd'
    for length, parts in (('5', []), (None, [b'abc', b'de'])):
        with pytest.raises(UploadError) as exc:
            asyncio.run(read_body(_chunks(parts), length, 4))
        assert exc.value.status == 413
    assert display_name('../../etc/passwd', 0) == 'passwd'
    assert display_name('C:\\x\\a\x00b.png', 1) == 'ab.png' and display_name('', 2) == 'image-2'
    body = (b'--B\r\nContent-Disposition: form-data; name="f"; filename="../a.png"\r\n'
            b'Content-Type: image/png\r\n\r\nAAA\r\n--B\r\nContent-Disposition: form-data; '
            b'name="f"; filename="b.png"\r\n\r\nBB\r\n--B--\r\n')
    headers = Headers({'content-type': 'multipart/form-data; boundary=B'})
    uploads = asyncio.run(parse_multipart(headers, body, 4, 100))
    assert [(u.name, u.data) for u in uploads] == [('a.png', b'AAA'), ('b.png', b'BB')]
    with pytest.raises(UploadError) as exc:
        asyncio.run(parse_multipart(headers, body, 1, 100))
    assert exc.value.status == 413


def test_frames():
    assert split_frame(make_frame(7, b'img'), 100) == (7, b'img')
    with pytest.raises(FrameError) as exc:
        split_frame(make_frame(1, b'x' * 100), 50)
    assert exc.value.code == 1009
    with pytest.raises(FrameError) as exc:
        split_frame(b'abc', 50)
    assert exc.value.code == 1003


def test_pending_matches_by_stream_and_seq():
    pending = Pending()
    future = pending.add(('/web/qr/images', 4))
    gone = pending.add(('/web/qr/images', 5))
    gone.cancel()
    prediction = {'label': 'x', 'inputs': {'/web/qr/images': {'seq': 4}}}
    assert pending.resolve(prediction) == 1 and future.result(0)['label'] == 'x'
    assert pending.resolve({'inputs': {'/web/qr/images': {'seq': 5}}}) == 0
    assert pending.unmatched == 1 and len(pending) == 0


def test_prometheus_text():
    reg = Registry()
    reg.counter('req_total', 'Requests.')
    reg.histogram('lat_seconds', 'Latency.', (0.1, 1.0))
    reg.gauge('depth', 'Depth.', lambda: 3)
    reg.inc('req_total', code='200')
    reg.inc('req_total', code='200')
    for value in (0.05, 0.5, 5.0):
        reg.observe('lat_seconds', value, model='q"r')
    text = reg.render()
    assert 'req_total{code="200"} 2\n' in text and 'depth 3\n' in text
    assert 'lat_seconds_bucket{model="q\\"r",le="0.1"} 1\n' in text
    assert 'lat_seconds_bucket{model="q\\"r",le="+Inf"} 3\n' in text
    assert 'lat_seconds_count{model="q\\"r"} 3\n' in text
    assert '# TYPE lat_seconds histogram' in text


def test_launch_plan_from_the_shipped_config():
    import pathlib

    import yaml

    from edgeserve_ros.web.launch_plan import web_plan
    path = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'web.yaml'
    doc = yaml.safe_load(path.read_text())
    plan = web_plan(doc, str(path), 'qr, digits', {'port': 9000})
    assert [n.name for n in plan] == ['qr_model', 'digits_model', 'web_gateway']
    assert plan[1].parameters['input'] == '/web/digits/images'
    assert plan[1].parameters['max_batch'] == 64
    assert plan[2].parameters['port'] == 9000 and plan[2].parameters['models'] == ['qr', 'digits']
    with pytest.raises(ValueError, match='nope not in'):
        web_plan(doc, str(path), 'nope')


def test_web_yaml_gateway_keys_are_declared_and_valid():
    import pathlib

    import yaml
    pytest.importorskip('rclpy')
    from edgeserve_ros.web.web_gateway_node import PARAMS
    specs = {s.name: s for s in PARAMS}
    doc = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / 'config'
                          / 'web.yaml').read_text())
    for key, value in doc['gateway'].items():
        assert key in specs, f'unknown gateway key {key}'
        assert specs[key].check(value) is None, (key, value)


def _shipped_doc():
    import pathlib

    import yaml
    path = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'web.yaml'
    return yaml.safe_load(path.read_text()), str(path)


def test_launch_plan_serves_a_model_from_a_shared_queue_with_workers():
    from edgeserve_ros.web.launch_plan import web_plan
    doc, path = _shipped_doc()
    doc = dict(doc, workers={'qr': {'count': 3, 'lease_timeout': 0.5}})
    plan = web_plan(doc, path, 'qr,digits')
    assert [n.executable for n in plan] == ['shared_queue_node'] + ['queue_worker'] * 3 + [
        'model_node', 'web_gateway_node']
    queue, worker = plan[0].parameters, plan[2].parameters
    assert (queue['input'], queue['output_stream'], queue['lease_timeout']) == (
        '/web/qr/images', '/web/qr/predictions', 0.5)
    assert (worker['queue'], worker['model'], worker['max_items']) == ('qr_queue', 'qr', 8)
    assert len({n.name for n in plan}) == len(plan)
    for bad, match in [({'nope': {}}, r'workers\.nope: not a model'),
                       ({'qr': {'count': 0}}, r'workers\.qr\.count=0'),
                       ({'qr': {'count': True}}, r'workers\.qr\.count=True'),
                       ({'qr': {'inline_bytes': -1}}, r'workers\.qr\.inline_bytes=-1'),
                       ({'qr': {'workers': 2}}, r'workers\.qr\.workers: unknown key'),
                       ({'qr': 3}, r'workers\.qr: expected a mapping'),
                       ([1], 'workers: expected a mapping')]:
        with pytest.raises(ValueError, match=match):
            web_plan(dict(doc, workers=bad), path)


def test_launch_plan_parameters_are_declared_by_their_nodes():
    pytest.importorskip('rclpy')
    from edgeserve_ros.models import model_node, queue_worker, shared_queue_node
    from edgeserve_ros.web import web_gateway_node
    from edgeserve_ros.web.launch_plan import web_plan
    declared = {'model_node': model_node.PARAMS, 'queue_worker': queue_worker.PARAMS,
                'shared_queue_node': shared_queue_node.PARAMS,
                'web_gateway_node': web_gateway_node.PARAMS}
    doc, path = _shipped_doc()
    plan = web_plan(dict(doc, workers={'ocr': {'count': 2, 'prefetch': 2,
                                               'inline_bytes': 1 << 20}}), path)
    assert {n.executable for n in plan} == set(declared)
    assert [n.parameters['inline_bytes'] for n in plan if n.name == 'ocr_queue'] == [1 << 20]
    for node in plan:
        specs = {s.name: s for s in declared[node.executable]}
        for key, value in node.parameters.items():
            assert key in specs, f'{node.name}: {key} is not a parameter of {node.executable}'
            assert specs[key].check(value) is None, (node.name, key, value)

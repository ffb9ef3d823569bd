"""Test images and a running web stack (model_node processes + web_gateway_node process)."""

import json
import pathlib
import struct
import time
import zlib

import cv2
import httpx
import numpy as np
import yaml

TOKEN = 'test-token-0123456789'
MODELS = {
    'qr': ({'kind': 'opencv_qr', 'input': 'image', 'backends': ['pyzbar']}, 8, 0.005),
    'digits': ({'kind': 'torch_image', 'class': 'edgeserve_ros.models.digits.DigitsCNN',
                'train': 'digits', 'size': [8, 8], 'channels': 1, 'invert': 'auto',
                'crop': True, 'threads': 1}, 32, 0.02),
    'slow': ({'kind': 'function', 'target': 'edgeserve_ros.models.zoo.fixed_delay',
              'params': {'delay_ms': 300}, 'inputs': ['image']}, 1, 0.0),
}
GATEWAY = dict(max_body_bytes=4 << 20, max_files=16, max_frame_bytes=2 << 20,
               max_pixels=4_000_000, max_side=8192, max_queue=16, max_client_queue=8,
               ws_in_flight=6, result_timeout=60.0, send_timeout=2.0,
               ring_bytes=64 << 20)


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode('.png', image)
    assert ok
    return data.tobytes()


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def qr_image(text: str) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    return cv2.copyMakeBorder(code, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=255)


def digit_images(count: int):
    """Return [(BGR image, true label)] from the digits test split, black on white, 104 px."""
    from edgeserve_ros.models.digits import digits_data
    data = digits_data(0)
    out = []
    for x, y in zip(data['x_test'][:count], data['y_test'][:count]):
        gray = cv2.resize((255 - x[0] * 255).astype(np.uint8), (64, 64),
                          interpolation=cv2.INTER_NEAREST)
        gray = cv2.copyMakeBorder(gray, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
        out.append((cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), int(y)))
    return out


def text_image(text: str) -> np.ndarray:
    image = np.full((120, 60 + 52 * len(text), 3), 255, np.uint8)
    cv2.putText(image, text, (20, 85), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 5)
    return image


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + kind + body + struct.pack(
        '>I', zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb_png(width: int = 50000, height: int = 50000) -> bytes:
    """Return a PNG that declares ``width x height`` (2.5 Gpixel) and is a few hundred bytes."""
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', ihdr)
            + _chunk(b'IDAT', zlib.compress(b'\0' * 1000)) + _chunk(b'IEND', b''))


def truncated_jpeg() -> bytes:
    data = jpeg(np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8))
    return data[:len(data) // 2]


class WebStack:
    """Model nodes and the gateway as processes on one domain; ``url`` once ready."""

    def __init__(self, procs, tmp: pathlib.Path, token: str = TOKEN) -> None:
        self.procs, self.tmp, self.token = procs, tmp, token
        models = [{'name': name, **cfg} for name, (cfg, _, _) in MODELS.items()]
        from edgeserve_ros.models.digits import ensure_digits_weights
        models[1]['weights'] = str(ensure_digits_weights())  # trained once, then cached
        (tmp / 'models.yaml').write_text(yaml.safe_dump({'models': models}))
        for name, (_, batch, delay) in MODELS.items():
            procs.start('edgeserve_ros.models.model_node', f'{name}_model',
                        model_file=str(tmp / 'models.yaml'), model=name,
                        input=f'/web/{name}/images', input_kind='stream',
                        output_stream=f'/web/{name}/predictions', max_batch=batch,
                        max_delay=delay)
        procs.env['EDGESERVE_WEB_TOKEN'] = token
        procs.start('edgeserve_ros.web.web_gateway_node', 'web_gateway', port=0,
                    port_file=str(tmp / 'port'), models=list(MODELS), **GATEWAY)
        self.url = ''

    def wait_ready(self, timeout: float = 240.0) -> dict:
        deadline = time.monotonic() + timeout
        health: dict = {}
        while time.monotonic() < deadline:
            port = self.tmp / 'port'
            if port.exists() and port.read_text().strip():
                self.url = f'http://127.0.0.1:{port.read_text().strip()}'
                health = httpx.get(f'{self.url}/healthz', timeout=5).json()
                if all(m['ready'] for m in health['models'].values()):
                    return health
            assert self.procs.procs['web_gateway'].poll() is None, self.procs.log('web_gateway')
            time.sleep(0.2)
        raise AssertionError(f'stack not ready: {json.dumps(health)}\n'
                             + self.procs.log('web_gateway'))

    @property
    def ws_url(self) -> str:
        return self.url.replace('http://', 'ws://')

    def headers(self) -> dict:
        return {'Authorization': f'Bearer {self.token}'}

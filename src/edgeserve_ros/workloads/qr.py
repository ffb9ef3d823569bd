"""
Two-camera 1080p frames of a moving QR code, with ground-truth corners per frame.

A QR code (encoded with :class:`cv2.QRCodeEncoder`; ``segno``/``qrcode`` are not
needed) moves on a Lissajous path over a planar scene.  Each camera sees the plane
through its own homography (offset, scale, slight perspective) and renders a
1920x1080 frame with :func:`cv2.warpPerspective` over a textured background plus
sensor noise.  Camera B's stamps are offset by a fraction of a frame, as with two
free-running cameras; the matcher in :mod:`.qr_match` pairs them back up.
"""

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

WIDTH, HEIGHT = 1920, 1080
#: camera name -> the world rectangle corners' image positions (a homography).
_WORLD = np.asarray([[0, 0], [WIDTH, 0], [WIDTH, HEIGHT], [0, HEIGHT]], dtype=np.float32)
DEFAULT_VIEWS = {
    'cam_a': np.asarray([[40, 20], [1880, 30], [1870, 1060], [50, 1050]], dtype=np.float32),
    'cam_b': np.asarray([[260, 160], [1700, 110], [1760, 1010], [200, 960]], dtype=np.float32),
}


@dataclass
class QrFrame:
    """
    One rendered frame and its ground truth.

    :ivar corners: the code's 4 outer corners (TL, TR, BR, BL), ``(4, 2)`` image pixels.
    """

    index: int
    stamp: float
    camera: str
    image: np.ndarray
    corners: np.ndarray
    text: str


def camera_homographies(views: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
    """Return camera name -> 3x3 world-to-image homography."""
    views = DEFAULT_VIEWS if views is None else views
    return {name: cv2.getPerspectiveTransform(_WORLD, np.asarray(quad, dtype=np.float32))
            for name, quad in views.items()}


def qr_image(text: str, module_px: int = 10, border: int = 4) -> Tuple[np.ndarray, int]:
    """Encode ``text``; return ``(uint8 image with quiet zone, border width in pixels)``."""
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    pad = border * module_px
    return cv2.copyMakeBorder(code, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255), pad


def world_position(i: int, n: int, size: int) -> Tuple[float, float]:
    """Top-left world position of the code (with quiet zone) at frame ``i`` of ``n``."""
    u = 2 * np.pi * i / max(n, 1)
    x = (WIDTH - size) * (0.5 + 0.4 * np.sin(u))
    y = (HEIGHT - size) * (0.5 + 0.4 * np.sin(2 * u + 0.5))
    return float(x), float(y)


def _background(rng: np.random.Generator) -> np.ndarray:
    small = rng.integers(120, 200, (HEIGHT // 40, WIDTH // 40)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (WIDTH, HEIGHT)), (0, 0), 8)


def iter_frames(n_frames: int = 60, fps: float = 30.0, text: str = 'edgeserve-ros/qr/0',
                seed: int = 0, module_px: int = 10, skew_s: float = 0.011,
                cameras: Optional[Sequence[str]] = None, color: bool = False,
                views: Optional[Dict[str, np.ndarray]] = None) -> Iterator[Dict[str, QrFrame]]:
    """
    Yield, per time step, camera name -> :class:`QrFrame` (gray, or BGR if ``color``).

    :param skew_s: each further camera's stamp lags the previous one by this much.
    """
    rng = np.random.default_rng(seed)
    homs = camera_homographies(views)
    names = list(cameras or homs)
    code, pad = qr_image(text, module_px)
    size = code.shape[0]
    inner = np.asarray([[pad, pad], [size - pad, pad], [size - pad, size - pad],
                        [pad, size - pad]], dtype=np.float32).reshape(-1, 1, 2)
    bgs = {c: _background(rng) for c in names}
    noise = [rng.normal(0, 4, (HEIGHT, WIDTH)).astype(np.int16) for _ in range(3)]
    for i in range(n_frames):
        x, y = world_position(i, n_frames, size)
        place = np.asarray([[1, 0, x], [0, 1, y], [0, 0, 1]], dtype=np.float64)
        out = {}
        for k, cam in enumerate(names):
            h = homs[cam] @ place
            img = cv2.warpPerspective(code, h, (WIDTH, HEIGHT), dst=bgs[cam].copy(),
                                      flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_TRANSPARENT)
            img = np.clip(img.astype(np.int16) + noise[(i + k) % 3], 0, 255).astype(np.uint8)
            if color:
                img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
            corners = cv2.perspectiveTransform(inner, h).reshape(4, 2)
            out[cam] = QrFrame(i, i / fps + k * skew_s, cam, img, corners, text)
        yield out


def render_frames(n_frames: int = 10, **kwargs) -> List[Dict[str, QrFrame]]:
    """Return :func:`iter_frames` as a list (memory: ~2 MB per gray frame)."""
    return list(iter_frames(n_frames, **kwargs))

"""
``sensor_msgs/Image`` <-> numpy, honouring ``step`` (row padding) and ``is_bigendian``.

:func:`image_to_array` and :func:`array_to_image` use ROS 2 ``cv_bridge`` when it is
importable (on robots with ROS 2 from apt); otherwise this module's own converter, which
is also what the lazy data plane uses for ``image/raw`` payloads. (The PyPI ``cv-bridge``
is broken on numpy 2, so it is never used.)
"""

from __future__ import annotations

import functools
from typing import Any, Tuple, Union

import numpy as np

from edgeserve_ros.dataplane.codec import Encoded, IMAGE, PayloadError

# encoding -> (dtype, channels)
ENCODINGS = {
    'mono8': ('u1', 1), 'mono16': ('u2', 1), 'bgr8': ('u1', 3), 'rgb8': ('u1', 3),
    'bgra8': ('u1', 4), 'rgba8': ('u1', 4), 'bgr16': ('u2', 3), 'rgb16': ('u2', 3),
    'bgra16': ('u2', 4), 'rgba16': ('u2', 4),
}
for _depth, _code in (('8U', 'u1'), ('8S', 'i1'), ('16U', 'u2'), ('16S', 'i2'),
                      ('32S', 'i4'), ('32F', 'f4'), ('64F', 'f8')):
    for _ch in (1, 2, 3, 4):
        ENCODINGS[f'{_depth.lower()}c{_ch}'] = (_code, _ch)


def encoding_info(encoding: str) -> Tuple[np.dtype, int]:
    """Return (dtype without byte order, channels) of a ``sensor_msgs/Image`` encoding."""
    try:
        code, channels = ENCODINGS[encoding.lower()]
    except KeyError:
        raise PayloadError(f'unsupported image encoding {encoding!r}') from None
    return np.dtype(code), channels


def decode_image_bytes(data: Union[bytes, memoryview], encoding: str, height: int, width: int,
                       step: int, is_bigendian: bool = False) -> np.ndarray:
    """Turn image rows into an ``(h, w[, c])`` array in native byte order."""
    dtype, channels = encoding_info(encoding)
    dtype = dtype.newbyteorder('>' if is_bigendian else '<')
    row = width * channels * dtype.itemsize
    if step < row:
        raise PayloadError(f'image step {step} < width*channels*itemsize {row}')
    if len(data) < step * height:
        raise PayloadError(f'image data has {len(data)} bytes, expected step*height = '
                           f'{step * height}')
    rows = np.frombuffer(data, dtype=np.uint8, count=step * height).reshape(height, step)
    pixels = rows[:, :row].view(dtype)
    shape = (height, width) if channels == 1 else (height, width, channels)
    array = pixels.reshape(shape)
    native = dtype.newbyteorder('=')
    return array.astype(native, copy=False) if array.dtype != native else array


def image_to_array(msg: Any) -> np.ndarray:
    """Convert a ``sensor_msgs/msg/Image`` to numpy (cv_bridge when available)."""
    bridge = _cv_bridge()
    if bridge is not None:
        return bridge.imgmsg_to_cv2(msg, desired_encoding='passthrough')
    return decode_image_bytes(memoryview(msg.data), msg.encoding, msg.height, msg.width,
                              msg.step, bool(msg.is_bigendian))


def array_to_image(array: np.ndarray, encoding: str, msg: Any) -> Any:
    """Fill and return ``msg`` (a ``sensor_msgs/msg/Image``) from an array."""
    bridge = _cv_bridge()
    if bridge is not None:
        out = bridge.cv2_to_imgmsg(array, encoding=encoding)
        out.header = msg.header
        return out
    dtype, channels = encoding_info(encoding)
    array = np.ascontiguousarray(array, dtype=dtype.newbyteorder('='))
    if array.shape[2:3] not in ((channels,), ()) or (channels > 1 and array.ndim != 3):
        raise PayloadError(f'array of shape {array.shape} does not fit encoding {encoding!r}')
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(array.dtype.byteorder == '>')
    msg.step = msg.width * channels * dtype.itemsize
    msg.data = array.tobytes()
    return msg


def encode_image(msg: Any) -> Encoded:
    """Describe an Image-like message (encoding, height, width, step, data) as a payload."""
    return Encoded([memoryview(msg.data).cast('B')], IMAGE, encoding=msg.encoding,
                   height=int(msg.height), width=int(msg.width), step=int(msg.step),
                   is_bigendian=bool(msg.is_bigendian))


@functools.lru_cache(maxsize=1)
def _cv_bridge() -> Any:
    try:
        from cv_bridge import CvBridge  # ROS 2 cv_bridge, present on robots
    except Exception:  # noqa: BLE001 - absent or broken (PyPI build on numpy 2)
        return None
    return CvBridge()


class ImageFrame:
    """A minimal Image-like value (same fields as ``sensor_msgs/Image``) for pure code."""

    def __init__(self, array: np.ndarray, encoding: str = 'bgr8') -> None:
        dtype, channels = encoding_info(encoding)
        array = np.ascontiguousarray(array, dtype=dtype)
        self.height, self.width = int(array.shape[0]), int(array.shape[1])
        self.encoding = encoding
        self.is_bigendian = False
        self.step = self.width * channels * dtype.itemsize
        self.data = array.reshape(-1).view(np.uint8)

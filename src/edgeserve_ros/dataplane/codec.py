"""
Payload encodings: what the bytes of a stream are, and how to turn them back.

No pickle anywhere: numpy arrays travel in the ``.npy`` format with ``allow_pickle=False``
(object dtypes are refused), structured data as JSON, images as raw rows (see
:mod:`edgeserve_ros.dataplane.images`).
"""

from __future__ import annotations

import array
from dataclasses import dataclass
import io
import json
from typing import Any, List, Union

import numpy as np

NPY = 'application/x-npy'
JSON = 'application/json'
OCTETS = 'application/octet-stream'
IMAGE = 'image/raw'
#: A serialized ROS 2 message (CDR); the header's ``encoding`` names its type.
CDR = 'application/x-ros2-cdr'
CONTENT_TYPES = (NPY, JSON, OCTETS, IMAGE, CDR)


class PayloadError(ValueError):
    """Bytes that do not decode as their declared content type."""


@dataclass
class Encoded:
    """A payload ready to store: its parts (concatenated on store) and its description."""

    parts: List[Any]  # bytes-like objects (bytes, bytearray, memoryview, uint8 arrays)
    content_type: str
    encoding: str = ''
    height: int = 0
    width: int = 0
    step: int = 0
    is_bigendian: bool = False

    @property
    def size(self) -> int:
        """Return the payload size in bytes."""
        return sum(memoryview(p).nbytes for p in self.parts)


def to_uint8_array(parts: Any) -> array.array:
    """
    Concatenate bytes-like parts into the ``array('B')`` a ROS ``uint8[]`` field stores.

    One copy: assigning ``bytes`` to a message field would copy twice, and a memoryview
    would be converted element by element.
    """
    out = array.array('B')
    for part in parts:
        view = memoryview(part)
        out.frombytes(view if view.format in ('B', 'b', 'c') and view.ndim == 1
                      else view.cast('B'))
    return out


def encode(value: Any) -> Encoded:
    """Encode a numpy array, bytes-like, JSON-able value or an :class:`ImageFrame`-like."""
    if isinstance(value, Encoded):
        return value
    if isinstance(value, np.ndarray):
        return encode_array(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Encoded([value], OCTETS)
    if hasattr(value, 'encoding') and hasattr(value, 'step') and hasattr(value, 'data'):
        from edgeserve_ros.dataplane.images import encode_image
        return encode_image(value)
    try:
        return Encoded([json.dumps(value, separators=(',', ':')).encode()], JSON)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f'cannot encode a {type(value).__name__}: {exc}') from None


def encode_array(array: np.ndarray) -> Encoded:
    """Encode an array as ``.npy`` without copying its data (C-contiguous arrays)."""
    if array.dtype.hasobject:
        raise PayloadError('object arrays are refused (they would need pickle)')
    array = np.ascontiguousarray(array)
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, np.lib.format.header_data_from_array_1_0(array))
    return Encoded([head.getvalue(), array.reshape(-1).view(np.uint8)], NPY)


def decode(data: Union[bytes, memoryview], content_type: str, **image_fields: Any) -> Any:
    """Decode payload bytes by content type; raise :class:`PayloadError` naming the problem."""
    if content_type == NPY:
        return decode_array(data)
    if content_type == JSON:
        try:
            return json.loads(bytes(data))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadError(f'bad JSON payload: {exc}') from None
    if content_type == IMAGE:
        from edgeserve_ros.dataplane.images import decode_image_bytes
        return decode_image_bytes(data, **image_fields)
    if content_type in (OCTETS, CDR, ''):
        return bytes(data)
    raise PayloadError(f'unknown content type {content_type!r}; expected one of {CONTENT_TYPES}')


def decode_array(data: Union[bytes, memoryview]) -> np.ndarray:
    """Decode ``.npy`` bytes (never unpickling); the array shares ``data``'s memory."""
    stream = io.BytesIO(data[:4096])
    try:
        version = np.lib.format.read_magic(stream)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(stream, max_header_size=4096)
    except (ValueError, SyntaxError) as exc:
        raise PayloadError(f'bad .npy payload: {exc}') from None
    if dtype.hasobject:
        raise PayloadError('object arrays are refused (they would need pickle)')
    count = int(np.prod(shape, dtype=np.int64))
    offset = stream.tell()
    if offset + count * dtype.itemsize != len(data):
        raise PayloadError(
            f'.npy payload has {len(data) - offset} data bytes, header says '
            f'{count * dtype.itemsize}')
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order='F' if fortran else 'C')

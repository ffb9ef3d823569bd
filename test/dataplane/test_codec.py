"""Payload encodings: npy without pickle, JSON, images honouring step and byte order."""

import numpy as np
import pytest

from edgeserve_ros.dataplane import codec
from edgeserve_ros.dataplane.delivery import auto_threshold, DeliveryMode, send_inline
from edgeserve_ros.dataplane.faults import FaultInjector, FaultSpec
from edgeserve_ros.dataplane.images import decode_image_bytes, ImageFrame


def _join(enc):
    return b''.join(bytes(p) for p in enc.parts)


@pytest.mark.parametrize('array', [np.arange(10, dtype='<i8'),
                                   np.ones((3, 4), dtype='>f4'),
                                   np.asfortranarray(np.arange(12.0).reshape(3, 4)),
                                   np.zeros((0, 5), dtype=np.uint8)])
def test_array_round_trip(array):
    enc = codec.encode(array)
    out = codec.decode(_join(enc), enc.content_type)
    np.testing.assert_array_equal(out, array)
    assert enc.size == len(_join(enc))


def test_object_arrays_and_pickles_are_refused():
    with pytest.raises(codec.PayloadError, match='pickle'):
        codec.encode(np.array([{'a': 1}], dtype=object))
    import io
    buf = io.BytesIO()
    np.save(buf, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    with pytest.raises(codec.PayloadError, match='pickle'):
        codec.decode(buf.getvalue(), codec.NPY)


@pytest.mark.parametrize('data', [b'', b'garbage', b'\x93NUMPY\x01\x00'])
def test_bad_npy_bytes_raise_payload_error(data):
    with pytest.raises(codec.PayloadError):
        codec.decode(data, codec.NPY)


def test_truncated_npy_is_detected():
    enc = codec.encode(np.arange(100, dtype=np.int32))
    with pytest.raises(codec.PayloadError, match='data bytes'):
        codec.decode(_join(enc)[:-4], codec.NPY)


def test_json_and_bytes_and_unknown_type():
    assert codec.decode(_join(codec.encode({'a': [1, 2]})), codec.JSON) == {'a': [1, 2]}
    assert codec.decode(_join(codec.encode(b'raw')), codec.OCTETS) == b'raw'
    with pytest.raises(codec.PayloadError, match='unknown content type'):
        codec.decode(b'x', 'text/evil')
    with pytest.raises(codec.PayloadError, match='cannot encode'):
        codec.encode(object())


def test_image_rows_with_padding_step():
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    rows = np.zeros((2, 12), dtype=np.uint8)  # step 12 > 9 bytes of pixels per row
    rows[:, :9] = pixels.reshape(2, 9)
    out = decode_image_bytes(rows.tobytes(), 'bgr8', 2, 3, 12)
    np.testing.assert_array_equal(out, pixels)


def test_image_big_endian_mono16():
    values = np.array([[1, 258], [65535, 0]], dtype='>u2')
    out = decode_image_bytes(values.tobytes(), 'mono16', 2, 2, 4, is_bigendian=True)
    assert out.dtype == np.dtype('=u2')
    np.testing.assert_array_equal(out, values.astype('=u2'))


def test_image_frame_round_trip_through_codec():
    array = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    enc = codec.encode(ImageFrame(array, 'rgb8'))
    assert enc.content_type == codec.IMAGE and enc.step == 15
    out = codec.decode(_join(enc), enc.content_type, encoding=enc.encoding,
                       height=enc.height, width=enc.width, step=enc.step)
    np.testing.assert_array_equal(out, array)


def test_bad_image_fields_are_named():
    with pytest.raises(codec.PayloadError, match='unsupported image encoding'):
        decode_image_bytes(b'', 'yuv9000', 1, 1, 1)
    with pytest.raises(codec.PayloadError, match='step'):
        decode_image_bytes(b'\0' * 10, 'bgr8', 1, 3, 5)


def test_delivery_modes():
    assert send_inline(DeliveryMode.EAGER, 10**9)
    assert not send_inline(DeliveryMode.LAZY, 1)
    assert send_inline(DeliveryMode.AUTO, 100, threshold=100)
    assert not send_inline(DeliveryMode.AUTO, 101, threshold=100)
    with pytest.raises(ValueError, match='lazy, eager, auto'):
        DeliveryMode.parse('sometimes')


def test_auto_threshold_follows_the_consumers_path():
    # ring in shared memory, nobody fetched through the service: same-host break-even
    assert auto_threshold(True, None, 100.0, 64, 512) == 64
    # a service fetch 3 s ago: a consumer cannot read the ring (another host)
    assert auto_threshold(True, 97.0, 100.0, 64, 512, memory=10.0) == 512
    assert auto_threshold(True, 80.0, 100.0, 64, 512, memory=10.0) == 64  # long ago
    # no shared memory: every consumer fetches through the service
    assert auto_threshold(False, None, 100.0, 64, 512) == 512


def test_fault_injector_is_seeded_and_validated():
    a = FaultInjector(FaultSpec(delay=0.01, jitter=0.02, loss=0.3, seed=4))
    b = FaultInjector(FaultSpec(delay=0.01, jitter=0.02, loss=0.3, seed=4))
    assert [(a.lose(), a.delay()) for _ in range(50)] == [(b.lose(), b.delay()) for _ in range(50)]
    assert 0 < a.lost < 50
    with pytest.raises(ValueError, match='loss'):
        FaultSpec(loss=2.0)

"""QR workload: two-camera 1080p rendering, decoding with both backends, matching."""

import numpy as np

from edgeserve_ros.models.loaders import load_model
from edgeserve_ros.models.qr_model import decode_qr
from edgeserve_ros.workloads.qr import HEIGHT, WIDTH, iter_frames
from edgeserve_ros.workloads.qr_match import match_detections, pair_frames, view_homography


def _corner_error(points, truth):
    return min(np.abs(np.roll(points, r, axis=0) - truth).max() for r in range(4))


def test_render_decode_and_match_two_cameras():
    """Render decode and match two cameras."""
    n = 8
    seen = {'cam_a': [], 'cam_b': []}
    for frames in iter_frames(n, seed=1):
        for cam, f in frames.items():
            assert f.image.shape == (HEIGHT, WIDTH) and f.image.dtype == np.uint8
            dets = decode_qr(f.image, ('pyzbar',), scale=0.5)
            seen[cam].append((f.stamp, dets))
            if dets:
                assert dets[0].text == f.text
                assert _corner_error(dets[0].points, f.corners) < 40  # ~3 modules
    for cam, frames in seen.items():
        assert sum(bool(d) for _, d in frames) >= 0.75 * n, cam
    corr = match_detections(seen['cam_a'], seen['cam_b'], tolerance_s=0.02)
    assert len(corr) >= 0.75 * n and all(c.index_a == c.index_b for c in corr)
    assert view_homography(corr).shape == (3, 3)


def test_opencv_backend_via_config_on_color_frames():
    """Opencv backend via config on color frames."""
    model = load_model({'kind': 'opencv_qr', 'input': 'image', 'backends': ['opencv', 'pyzbar']})
    frames = next(iter_frames(1, color=True))
    preds = model.predict_batch([{'image': f.image} for f in frames.values()] + [{}])
    assert [p.label for p in preds[:2]] == ['edgeserve-ros/qr/0'] * 2 and preds[2].label is None
    assert len(preds[0].extra['detections'][0]['points']) == 4


def test_pair_frames_one_to_one():
    """Pair frames one to one."""
    assert pair_frames([0.0, 0.033, 0.066], [0.011, 0.044, 0.5], 0.02) == [(0, 0), (1, 1)]
    assert pair_frames([0.0, 0.001], [0.0005], 0.01) == [(0, 0)]

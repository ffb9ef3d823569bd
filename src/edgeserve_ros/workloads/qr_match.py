"""
Pairing QR detections of time-aligned frames from two cameras.

Frames are paired one-to-one by nearest stamp within a tolerance (greedy by time
difference); in each pair, detections are matched by decoded text.  The result gives
per-frame point correspondences between the views, from which
:func:`view_homography` estimates the plane-induced homography camera A -> B.
"""

from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..models.qr_model import QrDetection


class Correspondence(NamedTuple):
    """One code seen in a pair of time-aligned frames (points ``(4, 2)`` per view)."""

    index_a: int
    index_b: int
    stamp_a: float
    stamp_b: float
    text: str
    points_a: np.ndarray
    points_b: np.ndarray


def pair_frames(stamps_a: Sequence[float], stamps_b: Sequence[float],
                tolerance_s: float) -> List[Tuple[int, int]]:
    """
    Pair frame indices one-to-one with ``|stamp_a - stamp_b| <= tolerance_s``.

    Candidate pairs are taken in order of increasing time difference (ties by index),
    each frame used at most once; the result is sorted by ``index_a``.
    """
    b = np.asarray(stamps_b, dtype=float)
    cands = []
    for i, ta in enumerate(stamps_a):
        lo, hi = np.searchsorted(b, [ta - tolerance_s, ta + tolerance_s], side='left')
        for j in range(lo, min(hi + 1, len(b))):
            dt = abs(b[j] - ta)
            if dt <= tolerance_s:
                cands.append((dt, i, j))
    used_a, used_b, out = set(), set(), []
    for _, i, j in sorted(cands):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((i, j))
    return sorted(out)


def match_detections(frames_a: Sequence[Tuple[float, Sequence[QrDetection]]],
                     frames_b: Sequence[Tuple[float, Sequence[QrDetection]]],
                     tolerance_s: float = 0.02) -> List[Correspondence]:
    """
    Match detections by text within time-aligned frame pairs.

    :param frames_a: per frame of camera A, ``(stamp, detections)`` sorted by stamp.
    :param frames_b: the same for camera B.
    :param tolerance_s: maximum stamp difference of a frame pair.
    """
    pairs = pair_frames([f[0] for f in frames_a], [f[0] for f in frames_b], tolerance_s)
    out = []
    for i, j in pairs:
        by_text = {d.text: d for d in frames_b[j][1]}
        for det in frames_a[i][1]:
            other = by_text.get(det.text)
            if other is not None:
                out.append(Correspondence(i, j, frames_a[i][0], frames_b[j][0], det.text,
                                          det.points, other.points))
    return out


def view_homography(correspondences: Sequence[Correspondence]) -> Optional[np.ndarray]:
    """Estimate the homography A -> B from all corner correspondences (RANSAC)."""
    import cv2
    if not correspondences:
        return None
    src = np.concatenate([c.points_a for c in correspondences]).astype(np.float32)
    dst = np.concatenate([c.points_b for c in correspondences]).astype(np.float32)
    h, _ = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    return h

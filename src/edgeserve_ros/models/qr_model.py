"""
``opencv_qr`` kind: QR detection/decoding with pyzbar and/or OpenCV.

Backends are tried in the configured order; the first one that decodes at least one
code wins for that image.  ``scale`` < 1 downsizes the image first (faster on 1080p
frames); corner points are reported in the original image's pixel coordinates.
"""

from typing import Dict, List, NamedTuple, Optional, Sequence, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # cv2 is imported lazily at run time
    import cv2

from .types import Inputs, Prediction


class QrDetection(NamedTuple):
    """
    One decoded code: its text, 4 corner points ``(4, 2)`` (x, y) and the backend.

    Points run clockwise in the image starting at the code's top-left corner (the
    exact starting corner may differ between backends for rotated codes).
    """

    text: str
    points: np.ndarray
    backend: str


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    return image


def _pyzbar(gray: np.ndarray) -> List[QrDetection]:
    from pyzbar import pyzbar
    out = []
    for sym in pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        pts = np.array([(p.x, p.y) for p in sym.polygon], dtype=np.float64)
        if len(pts) == 4:  # zbar lists them counter-clockwise; report clockwise like OpenCV
            pts = pts[[0, 3, 2, 1]]
        else:  # zbar gives the convex hull; keep the bounding rectangle then
            r = sym.rect
            pts = np.array([(r.left, r.top), (r.left + r.width, r.top),
                            (r.left + r.width, r.top + r.height),
                            (r.left, r.top + r.height)], dtype=np.float64)
        out.append(QrDetection(sym.data.decode('utf-8', 'replace'), pts, 'pyzbar'))
    return out


_DETECTOR: Dict[str, 'cv2.QRCodeDetector'] = {}


def _opencv(gray: np.ndarray) -> List[QrDetection]:
    import cv2
    det = _DETECTOR.setdefault('d', cv2.QRCodeDetector())
    ok, texts, points, _ = det.detectAndDecodeMulti(gray)
    if not ok or points is None:
        return []
    return [QrDetection(t, np.asarray(p, dtype=np.float64).reshape(4, 2), 'opencv')
            for t, p in zip(texts, points) if t]


_BACKENDS = {'pyzbar': _pyzbar, 'opencv': _opencv}


def decode_qr(image: np.ndarray, backends: Sequence[str] = ('pyzbar', 'opencv'),
              scale: float = 1.0) -> List[QrDetection]:
    """
    Detect and decode QR codes in a gray or BGR image.

    :param image: ``(h, w)`` or ``(h, w, 3)`` uint8 array.
    :param backends: tried in order; the first with any decoded code wins.
    :param scale: downscale factor applied before decoding (0 < scale <= 1).
    """
    import cv2
    gray = _gray(np.asarray(image))
    if scale != 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for name in backends:
        found = _BACKENDS[name](np.ascontiguousarray(gray))
        if found:
            return [d._replace(points=d.points / scale) for d in found]
    return []


class QrModel:
    """
    Adapter: one prediction per image; ``label`` is the first decoded text or ``None``.

    ``extra['detections']`` lists ``{'text', 'points' (4x2 list), 'backend'}`` dicts.
    """

    def __init__(self, input_name: str = 'image', backends: Sequence[str] = ('pyzbar', 'opencv'),
                 scale: float = 1.0) -> None:
        self.input_name = input_name
        self.backends = list(backends)
        self.scale = scale

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Decode each input's image (a missing image gives label ``None``)."""
        out = []
        for item in inputs:
            image: Optional[np.ndarray] = item.get(self.input_name)
            dets = [] if image is None else decode_qr(image, self.backends, self.scale)
            out.append(Prediction(
                label=dets[0].text if dets else None,
                extra={'detections': [{'text': d.text, 'points': d.points.tolist(),
                                       'backend': d.backend} for d in dets]}))
        return out

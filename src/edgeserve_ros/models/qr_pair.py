"""
Multi-camera QR tracking model (paper section 6.3.5): decode both views of one tick.

``track_pair`` is a ``function`` model (allow-listed under ``edgeserve_ros.models``): for each
synchronized pair of frames it decodes the QR code in every camera and reports whether it
was found in all of them, with each view's centre, so the positions can be corresponded.
"""

from typing import Any, Dict, List, Optional

import numpy as np

from .qr_model import decode_qr
from .types import Prediction


def track_pair(batch: List[Dict[str, Optional[np.ndarray]]], scale: float = 0.5,
               backends: tuple = ('pyzbar',)) -> List[Prediction]:
    """Return one prediction per tuple: label = the text seen by every camera, else None."""
    out = []
    for item in batch:
        views: Dict[str, Any] = {}
        texts = set()
        for camera, image in item.items():
            found = decode_qr(image, backends, scale) if image is not None else []
            if found:
                texts.add(found[0].text)
                views[camera] = np.asarray(found[0].points).mean(axis=0).round(1).tolist()
            else:
                views[camera] = None
        both = len(texts) == 1 and all(v is not None for v in views.values())
        out.append(Prediction(label=texts.pop() if both else None,
                              extra={'centres': views, 'found_in_all': both}))
    return out

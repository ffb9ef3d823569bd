"""
``ocr`` kind: text recognition with RapidOCR.

Its PP-OCRv4 ONNX models ship in the ``rapidocr-onnxruntime`` wheel; it runs offline on CPU.

``label`` is the recognised lines joined by spaces (``None`` when there is no text);
``extra['lines']`` lists ``{'text', 'score', 'box' (4x2)}`` in reading order.
"""

from typing import Any, List, Optional

import numpy as np

from .types import Inputs, Prediction


class OcrModel:
    """
    Adapter: one prediction per BGR or gray image.

    :param input_name: the stream (input) holding the image
    :param min_score: lines recognised with a lower confidence are dropped
    :param threads: onnxruntime intra-op threads (0: onnxruntime's default)
    """

    def __init__(self, input_name: str = 'image', min_score: float = 0.5,
                 threads: int = 0) -> None:
        self.input_name, self.min_score, self.threads = input_name, min_score, threads
        self._engine: Any = None
        self._ocr()  # load the ONNX sessions now (a node is ready only once they are)

    def _ocr(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR
            kwargs = {'intra_op_num_threads': self.threads} if self.threads > 0 else {}
            self._engine = RapidOCR(**kwargs)
        return self._engine

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Recognise the text of each input's image (a missing image gives ``None``)."""
        out = []
        for item in inputs:
            image: Optional[np.ndarray] = item.get(self.input_name)
            lines = []
            if image is not None:
                if image.ndim == 2:
                    image = np.repeat(image[:, :, None], 3, axis=2)
                found, _ = self._ocr()(np.ascontiguousarray(image))
                for box, text, score in found or []:
                    if float(score) >= self.min_score:
                        lines.append({'text': str(text), 'score': float(score),
                                      'box': np.asarray(box, dtype=float).tolist()})
            label = ' '.join(line['text'] for line in lines) or None
            out.append(Prediction(label=label, extra={'lines': lines}))
        return out

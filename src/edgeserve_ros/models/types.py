"""The :class:`Prediction` value type and the :class:`Model` protocol."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

#: One inference input: stream name -> feature array (``None`` = member missing).
Inputs = Dict[str, Optional[np.ndarray]]


@dataclass
class Prediction:
    """
    One model output.

    :ivar label: the predicted label (class label, decoded text, ... or ``None``).
    :ivar proba: class probabilities aligned with :attr:`classes`, if the model has them.
    :ivar classes: the class labels that :attr:`proba` refers to.
    :ivar extra: kind-specific details (e.g. QR corner points), JSON-friendly where possible.
    """

    label: Any
    proba: Optional[np.ndarray] = None
    classes: Optional[Sequence[Any]] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Model(Protocol):
    """Anything that maps a batch of per-stream inputs to one prediction per input."""

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Return one :class:`Prediction` per element of ``inputs``, in order."""
        ...  # pragma: no cover


def predictions_from_scores(scores: np.ndarray, classes: Sequence[Any]) -> List[Prediction]:
    """
    Turn an ``(n, k)`` probability/score matrix into predictions (argmax label).

    :param scores: per-class probabilities (or softmaxed logits), one row per input.
    :param classes: the label of each column.
    """
    scores = np.asarray(scores, dtype=float)
    idx = np.argmax(scores, axis=1)
    return [Prediction(label=classes[int(i)], proba=row, classes=classes)
            for i, row in zip(idx, scores)]

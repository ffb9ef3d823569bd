"""
A learned stacker (paper §3.3.1): logistic regression over local models' outputs.

Each source contributes a block of ``len(classes)`` features: its probability vector
(``use_proba=True`` and available) or the one-hot of its label; a missing or dropped
source contributes zeros, so the stacker can be trained to cope with missing members
(:func:`train_stacker` with ``drop_rate`` > 0 randomly blanks members while training).
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np


class Stacker:
    """
    Logistic regression over concatenated per-source blocks.

    :param sources: member names, fixing the block order.
    :param classes: the label set of the members' outputs.
    :param use_proba: use probability vectors when members provide them.
    """

    def __init__(self, sources: Sequence[str], classes: Sequence[Any],
                 use_proba: bool = True) -> None:
        self.sources, self.classes = list(sources), list(classes)
        self.use_proba = use_proba
        self._index = {c: i for i, c in enumerate(self.classes)}
        self.model: Any = None

    def _block(self, member: Any) -> np.ndarray:
        k = len(self.classes)
        if member is None:
            return np.zeros(k)
        proba = getattr(member, 'proba', None)
        if self.use_proba and proba is not None:
            return np.asarray(proba, dtype=float)
        label = getattr(member, 'label', member)
        out = np.zeros(k)
        if label in self._index:
            out[self._index[label]] = 1.0
        return out

    def features(self, members: Mapping[str, Any]) -> np.ndarray:
        """
        Return the feature row for one set of members.

        Members are objects with ``label``/``proba``, plain labels, or ``None``.
        """
        return np.concatenate([self._block(members.get(s)) for s in self.sources])

    def fit(self, rows: Sequence[Mapping[str, Any]],
            y: Union[Sequence[Any], np.ndarray]) -> 'Stacker':
        """Fit on member outputs ``rows`` and true labels ``y``."""
        from sklearn.linear_model import LogisticRegression
        x = np.stack([self.features(r) for r in rows])
        self.model = LogisticRegression(max_iter=1000).fit(x, np.asarray(y))
        return self

    def predict_one(self, members: Mapping[str, Any]) -> Tuple[Any, Dict[Any, float]]:
        """Return ``(label, {label: probability})`` for one set of members."""
        proba = self.model.predict_proba(self.features(members)[None, :])[0]
        labels = [c.item() if isinstance(c, np.generic) else c for c in self.model.classes_]
        scores = dict(zip(labels, proba.tolist()))
        return labels[int(np.argmax(proba))], scores

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> List[Any]:
        """Predict labels for many sets of members."""
        x = np.stack([self.features(r) for r in rows])
        return list(self.model.predict(x))


def train_stacker(outputs: Mapping[str, np.ndarray], y: Union[Sequence[Any], np.ndarray],
                  classes: Sequence[Any],
                  drop_rate: float = 0.0, seed: int = 0,
                  use_proba: bool = True) -> Stacker:
    """
    Train a :class:`Stacker` from held-out outputs of local models.

    :param outputs: source -> ``(n, len(classes))`` probabilities or ``(n,)`` labels.
    :param y: true labels (length ``n``).
    :param classes: label order of the probability columns.
    :param drop_rate: probability of blanking each member per row (robustness to drops).
    :param seed: RNG seed for ``drop_rate``.
    """
    from types import SimpleNamespace
    rng = np.random.default_rng(seed)
    sources = list(outputs)
    n = len(y)
    rows: List[Dict[str, Optional[Any]]] = []
    for i in range(n):
        row: Dict[str, Optional[Any]] = {}
        for s in sources:
            out = np.asarray(outputs[s][i])
            if drop_rate and rng.random() < drop_rate:
                row[s] = None
            elif out.ndim == 1 and out.size == len(classes) and use_proba:
                row[s] = SimpleNamespace(label=None, proba=out)
            else:
                row[s] = SimpleNamespace(label=out.item(), proba=None)
        rows.append(row)
    return Stacker(sources, classes, use_proba).fit(rows, y)

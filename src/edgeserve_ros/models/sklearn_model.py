"""
scikit-learn models loaded from a local joblib or skops file.

Security: ``joblib`` files are pickles and may run code when loaded, so only load
files named in the local, trusted config -- never data received over the network.
``skops`` files are loaded with type checking: :func:`skops.io.get_untrusted_types`
lists the types in the file that skops does not trust by default; loading is refused
unless every one of them is named in the config's ``trusted_types``.
"""

from typing import Any, List, Optional, Sequence

import numpy as np

from .features import FeatureAssembler
from .types import Inputs, Prediction, predictions_from_scores


class UntrustedTypesError(ValueError):
    """A skops file contains types not listed in ``trusted_types``."""


def load_sklearn_estimator(path: str, fmt: str = 'joblib',
                           trusted_types: Sequence[str] = ()) -> Any:
    """
    Load an estimator from a local file named in trusted config.

    :param path: local file path.
    :param fmt: ``'joblib'`` or ``'skops'``.
    :param trusted_types: extra types accepted in a skops file (fully qualified names).
    :raises UntrustedTypesError: if a skops file holds types not in ``trusted_types``.
    """
    if fmt == 'skops':
        import skops.io as sio
        untrusted = sio.get_untrusted_types(file=path)
        refused = sorted(set(untrusted) - set(trusted_types))
        if refused:
            raise UntrustedTypesError(
                f'{path}: untrusted types {refused}; list them in trusted_types to accept')
        return sio.load(path, trusted=list(untrusted))
    if fmt == 'joblib':
        import joblib
        return joblib.load(path)
    raise ValueError(f'unknown sklearn format {fmt!r}')


class SklearnModel:
    """
    Adapter: assembles a feature row per input and calls the estimator on the batch.

    Uses ``predict_proba`` when the estimator has it (label = argmax over ``classes_``),
    otherwise ``predict``.

    :param estimator: a fitted scikit-learn estimator.
    :param assembler: the :class:`FeatureAssembler` for this model's inputs.
    """

    def __init__(self, estimator: Any, assembler: FeatureAssembler) -> None:
        self.estimator = estimator
        self.assembler = assembler
        self.classes: Optional[List[Any]] = (
            list(estimator.classes_) if hasattr(estimator, 'classes_') else None)

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Return one prediction per input (empty list for an empty batch)."""
        if not inputs:
            return []
        x = self.assembler.matrix(inputs)
        if hasattr(self.estimator, 'predict_proba') and self.classes is not None:
            return predictions_from_scores(self.estimator.predict_proba(x), self.classes)
        return [Prediction(label=_plain(v)) for v in self.estimator.predict(x)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value

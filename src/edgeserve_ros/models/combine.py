"""
Ensembling prediction streams: members of a synchronized tuple -> one prediction; rclpy-free.

Used by ``ensemble_node``: member predictions are prediction stream JSON objects (see
:mod:`.prediction`) stamped with their input's collection time; :func:`combine_tuple`
turns the members of one synchronizer tuple into ``LocalPrediction`` values (probabilities
re-ordered to the ensemble's classes), lets :class:`~.ensemble.Ensemble` drop members
older than ``max_skew`` relative to the newest (paper §6.4.3) and returns the combined
prediction stream JSON object, with ``used`` and ``dropped`` streams.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .ensemble import Ensemble, LocalPrediction

#: skops types a stacker file may contain besides skops' defaults.
STACKER_TYPES = ('edgeserve_ros.models.stacking.Stacker',)


def load_stacker(path: str) -> Any:
    """
    Load a fitted :class:`~.stacking.Stacker` from a local file named in trusted config.

    ``.skops`` files are type-checked (only :data:`STACKER_TYPES` are trusted beyond skops'
    defaults); other files are joblib pickles, so never point this at received data.

    :raises ValueError: the file cannot be read or holds no stacker
    """
    try:
        if path.endswith('.skops'):
            from .sklearn_model import load_sklearn_estimator
            stacker = load_sklearn_estimator(path, 'skops', STACKER_TYPES)
        else:
            import joblib
            stacker = joblib.load(path)
    except (OSError, ValueError, EOFError, ImportError) as exc:
        raise ValueError(f'{path}: {exc}') from None
    if not callable(getattr(stacker, 'predict_one', None)) or not hasattr(stacker, 'sources'):
        raise ValueError(f'{path}: holds a {type(stacker).__name__}, not a fitted Stacker')
    return stacker


def align_proba(proba: Optional[Sequence[float]], classes: Optional[Sequence[Any]],
                target: Optional[Sequence[Any]]) -> Optional[List[float]]:
    """Re-order ``proba`` (over ``classes``) to ``target``'s order; None if not possible."""
    if proba is None or classes is None or target is None or len(proba) != len(classes):
        return None
    index = dict(zip(classes, proba))
    return [float(index.get(c, 0.0)) for c in target]


def combine_tuple(ensemble: Ensemble, keys: Mapping[str, str], tick: float,
                  members: Mapping[str, Optional[Tuple[Dict[str, Any], str, float, int]]],
                  name: str = 'ensemble') -> Optional[Dict[str, Any]]:
    """
    Combine one synchronized tuple of member predictions.

    :param ensemble: the combiner; its ``sources`` are ``keys``' values.
    :param keys: stream -> ensemble source name.
    :param tick: the tuple's tick (the output's ``tick``).
    :param members: stream -> ``(prediction JSON, state, stamp, seq)`` or None (missing).
    :param name: the ``model`` written into the output.
    :return: the combined prediction JSON object, or None when no member was usable.
    """
    begin = time.perf_counter()
    if ensemble.classes is None:
        ensemble.classes = next((m[0]['classes'] for m in members.values()
                                 if m is not None and m[0].get('classes')), None)
    target = ensemble.classes
    if ensemble.rule == 'stacker':
        target = ensemble.stacker.classes
    local: Dict[str, Optional[LocalPrediction]] = {}
    provenance: Dict[str, Dict[str, Any]] = {}
    for stream, member in members.items():
        key = keys[stream]
        if member is None or member[0].get('label') is None:
            local[key] = None
            continue
        pred, state, stamp, seq = member
        local[key] = LocalPrediction(stamp, pred['label'], align_proba(
            pred.get('proba'), pred.get('classes'), target))
        provenance[stream] = {'seq': seq, 'stamp': stamp, 'state': state}
    result = ensemble.combine(local)
    if result.label is None and not result.used:
        return None
    by_key = {v: k for k, v in keys.items()}
    total = sum(result.scores.values())
    classes = list(result.scores)
    return dict(model=name, label=result.label, classes=classes,
                proba=[result.scores[c] / total for c in classes] if total > 0 else None,
                tick=float(tick), inputs=provenance,
                processing_s=time.perf_counter() - begin, batch=1, worker='',
                used=[by_key[s] for s in result.used], dropped=[by_key[s] for s in result.dropped],
                missing=[by_key[s] for s in result.missing])

"""
Combining local predictions under a skew bound (paper §3.3.1, §6.4.2, §6.4.3).

Members whose stamp is older than ``max_skew`` relative to the newest member are
dropped before combining -- the late "unpopular vote" of a delayed stream is left
out instead of dragging the ensemble back in time.  Rules:

* ``majority`` -- most votes; ties broken deterministically (see :func:`majority_vote`);
* ``weighted`` -- sum of per-source weights times the member's probability vector (or
  one-hot label when it has none);
* ``stacker`` -- a learned :class:`~.stacking.Stacker` over the members' one-hot or
  probability outputs (missing/dropped members contribute zeros).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

RULES = ('majority', 'weighted', 'stacker')
TIE_BREAKS = ('freshest', 'order', 'sorted')


class LocalPrediction(NamedTuple):
    """One member's output: its stamp (data time), label and optional probabilities."""

    stamp: float
    label: Any
    proba: Optional[Sequence[float]] = None


@dataclass
class EnsembleResult:
    """
    The combined label and its provenance.

    :ivar used: sources whose votes were combined (config order).
    :ivar dropped: sources present but older than ``max_skew`` relative to the newest.
    :ivar missing: sources with no prediction at all.
    :ivar stamp: the newest used stamp.
    """

    label: Any
    used: List[str]
    dropped: List[str]
    missing: List[str]
    stamp: Optional[float]
    scores: Dict[Any, float] = field(default_factory=dict)


def split_by_skew(members: Mapping[str, Optional[LocalPrediction]], max_skew: Optional[float],
                  order: Sequence[str]) -> Tuple[List[str], List[str], List[str]]:
    """
    Return ``(used, dropped, missing)`` source lists, each in ``order``.

    A present member is dropped if ``newest_stamp - stamp > max_skew``; ``None`` keeps all.
    """
    stamps = {s: m.stamp for s in order if (m := members.get(s)) is not None}
    present = [s for s in order if s in stamps]
    missing = [s for s in order if s not in stamps]
    if not present or max_skew is None:
        return present, [], missing
    newest = max(stamps.values())
    used = [s for s in present if newest - stamps[s] <= max_skew]
    return used, [s for s in present if s not in used], missing


def _pick(scores: Dict[Any, float], members: Mapping[str, LocalPrediction],
          used: Sequence[str], tie_break: str) -> Any:
    best = max(scores.values())
    tied = [label for label, v in scores.items() if np.isclose(v, best)]
    if len(tied) == 1:
        return tied[0]
    if tie_break == 'order':  # the first source (config order) that voted for a tied label
        return next(members[s].label for s in used if members[s].label in tied)
    if tie_break == 'freshest':  # the tied label with the newest supporting vote
        newest = {lab: max(members[s].stamp for s in used if members[s].label == lab)
                  for lab in tied}
        top = max(newest.values())
        tied = [lab for lab in tied if newest[lab] == top]
    return sorted(tied, key=lambda lab: (str(type(lab)), str(lab)))[0]


def majority_vote(members: Mapping[str, LocalPrediction], used: Sequence[str],
                  tie_break: str = 'freshest') -> Tuple[Any, Dict[Any, float]]:
    """
    Plain vote over ``used`` sources.

    Ties: ``'freshest'`` picks the tied label with the newest supporting stamp (then
    ``'sorted'``); ``'order'`` the label of the first source in config order;
    ``'sorted'`` the smallest label by ``str``.
    """
    return weighted_vote(members, used, {}, tie_break, use_proba=False)


def weighted_vote(members: Mapping[str, LocalPrediction], used: Sequence[str],
                  weights: Mapping[str, float], tie_break: str = 'freshest',
                  use_proba: bool = True, classes: Optional[Sequence[Any]] = None
                  ) -> Tuple[Any, Dict[Any, float]]:
    """Weighted vote (weight default 1); uses probabilities when present and ``classes`` given."""
    scores: Dict[Any, float] = defaultdict(float)
    for s in used:
        m, w = members[s], float(weights.get(s, 1.0))
        if use_proba and m.proba is not None and classes is not None:
            for label, p in zip(classes, m.proba):
                scores[label] += w * float(p)
        else:
            scores[m.label] += w
    return _pick(dict(scores), members, used, tie_break), dict(scores)


class Ensemble:
    """
    Skew-bounded combiner of local predictions.

    :param sources: member names in config order.
    :param rule: ``'majority'``, ``'weighted'`` or ``'stacker'``.
    :param max_skew: drop members older than this (seconds) relative to the newest;
        ``None`` keeps all present members.
    :param weights: per-source weights for ``'weighted'``.
    :param stacker: a fitted :class:`~.stacking.Stacker` for ``'stacker'``.
    :param classes: label order of members' ``proba`` vectors.
    :param tie_break: see :func:`majority_vote`.
    """

    def __init__(self, sources: Sequence[str], rule: str = 'majority',
                 max_skew: Optional[float] = None, weights: Optional[Mapping[str, float]] = None,
                 stacker: Any = None, classes: Optional[Sequence[Any]] = None,
                 tie_break: str = 'freshest') -> None:
        if rule not in RULES:
            raise ValueError(f'rule: unknown rule {rule!r}; expected one of {RULES}')
        if tie_break not in TIE_BREAKS:
            raise ValueError(f'tie_break: unknown {tie_break!r}; expected one of {TIE_BREAKS}')
        if rule == 'stacker' and stacker is None:
            raise ValueError("rule 'stacker' needs a fitted stacker")
        self.sources, self.rule, self.max_skew = list(sources), rule, max_skew
        self.weights, self.stacker = dict(weights or {}), stacker
        self.classes, self.tie_break = classes, tie_break

    def combine(self, members: Mapping[str, Optional[LocalPrediction]]) -> EnsembleResult:
        """Combine one synchronized set of member predictions (``None`` = missing)."""
        used, dropped, missing = split_by_skew(members, self.max_skew, self.sources)
        if not used:
            return EnsembleResult(None, [], dropped, missing, None)
        kept = {s: m for s in used if (m := members[s]) is not None}
        stamp = max(m.stamp for m in kept.values())
        if self.rule == 'stacker':
            label, scores = self.stacker.predict_one(kept)
        elif self.rule == 'weighted':
            label, scores = weighted_vote(kept, used, self.weights, self.tie_break,
                                          classes=self.classes)
        else:
            label, scores = majority_vote(kept, used, self.tie_break)
        return EnsembleResult(label, used, dropped, missing, stamp, scores)

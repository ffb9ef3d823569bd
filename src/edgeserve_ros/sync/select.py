"""
Choice of the fresh members of one tuple (bounded-skew window).

Among all windows ``[e - max_skew, e]`` whose end ``e`` is a candidate stamp,
take the one that covers the most required streams, then the most optional
streams, then the latest end; each covered stream contributes its newest
candidate inside the window.  Hence the fresh members span at most
``max_skew`` and no stream is given an older header when a newer one would
still fit: a newer fitting header would make a later window with at least the
same coverage.  Cost: O(n log n) in the number of candidates, per tick.
"""

from typing import List, Optional, Sequence

from .buffer import Entry


def choose_fresh(cands: Sequence[List[Entry]], required: Sequence[bool],
                 max_skew: float) -> List[Optional[Entry]]:
    """
    Return, per stream, its fresh member or ``None``.

    :param cands: per stream, candidate entries sorted by stamp (oldest first).
    :param required: per stream, whether it is required.
    :param max_skew: the window length.
    """
    items = [(entry[0], i) for i, entries in enumerate(cands) for entry in entries]
    if not items:
        return [None] * len(cands)
    items.sort()
    counts = [0] * len(cands)
    n_req = n_opt = 0
    left = 0
    best_key = (-1, -1)
    best_end = items[0][0]
    for end, i in items:
        if counts[i] == 0:
            if required[i]:
                n_req += 1
            else:
                n_opt += 1
        counts[i] += 1
        while end - items[left][0] > max_skew:
            j = items[left][1]
            counts[j] -= 1
            if counts[j] == 0:
                if required[j]:
                    n_req -= 1
                else:
                    n_opt -= 1
            left += 1
        if (n_req, n_opt) >= best_key:
            best_key = (n_req, n_opt)
            best_end = end
    chosen: List[Optional[Entry]] = []
    for entries in cands:
        pick = None
        for entry in reversed(entries):
            if entry[0] <= best_end:
                if best_end - entry[0] <= max_skew:
                    pick = entry
                break
        chosen.append(pick)
    return chosen

"""
Accounting for every item of a run (rclpy-free): what each node says it did with its items.

Nodes publish their counters as JSON (``{"node", "role", "counts"}``, see
:mod:`edgeserve_ros.ros.account`); :func:`item_account` adds them up into one line of the
run's summary: items produced at the sources, skipped late at a source, shed by a bound
(model ``max_pending``, a full shared queue), not fetched (expired or failed), predicted,
failed in a model, predicted, and what none of these explains (``unaccounted``: in flight
when the run ended, or lost).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

#: role -> counter -> account field it adds to
FIELDS: Dict[str, Dict[str, str]] = {
    'source': {'published': 'produced', 'skipped_late': 'skipped_late',
               'failed': 'failed_at_source', 'finished': 'sources_finished'},
    'model': {'skipped': 'shed', 'fetch_failed': 'not_fetched', 'errors': 'failed',
              'predictions': 'predicted'},
    'queue': {'dropped': 'shed', 'failed': 'failed', 'published': 'predicted',
              'duplicates': 'duplicates_dropped'},
}
ACCOUNT_KEYS = ('sources', 'sources_finished', 'produced', 'skipped_late', 'failed_at_source',
                'shed', 'not_fetched', 'failed', 'predicted', 'duplicates_dropped')


def sources_ready(reports: Mapping[str, Mapping[str, Any]]) -> int:
    """
    Return how many sources say their header writer matched every planned subscriber.

    :param reports: node name -> its newest account (``counts.ready`` is 1 once matched,
        see the ``wait_subscribers`` parameter of the workload source)
    """
    return sum(1 for r in reports.values()
               if r.get('role') == 'source' and (r.get('counts') or {}).get('ready') == 1)


def sources_done(account: Mapping[str, int]) -> bool:
    """Whether there are sources and every one has published its last item."""
    return account.get('sources', 0) > 0 and account['sources_finished'] == account['sources']


def complete(account: Mapping[str, int]) -> bool:
    """Whether every source finished and every produced item is accounted for."""
    return sources_done(account) and account.get('unaccounted') == 0


def item_account(reports: Mapping[str, Mapping[str, Any]],
                 one_per_item: bool) -> Dict[str, int]:
    """
    Sum the newest report of every node into one account.

    :param reports: node name -> ``{"role": ..., "counts": {...}}``
    :param one_per_item: each produced item yields one prediction (unsynchronized,
        centralized or parallel topologies); then ``unaccounted`` is computed
    """
    out = dict.fromkeys(ACCOUNT_KEYS, 0)
    for report in reports.values():
        fields = FIELDS.get(str(report.get('role')), {})
        counts = report.get('counts') or {}
        out['sources'] += report.get('role') == 'source'
        for counter, key in fields.items():
            value = counts.get(counter, 0)
            if isinstance(value, int) and not isinstance(value, bool):
                out[key] += value
    out['nodes'] = len(reports)
    if one_per_item:
        out['unaccounted'] = (out['produced'] - out['shed'] - out['not_fetched']
                              - out['failed'] - out['predicted'])
    return out

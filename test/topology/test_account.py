"""The run's item account: every node's counters added up, the unexplained remainder shown."""

from edgeserve_ros.topology.account import complete, item_account, sources_ready


def _reports(published=100, predicted=97, shed=2, finished=1):
    return {
        '/s0': {'role': 'source', 'counts': {'published': published, 'skipped_late': 3,
                                             'failed': 0, 'finished': finished}},
        '/queue': {'role': 'queue', 'counts': {'dropped': shed, 'failed': 1,
                                               'published': predicted, 'duplicates': 4}},
        '/odd': {'role': 'unknown', 'counts': {'published': 1000}},
        '/bad': {'role': 'model', 'counts': {'predictions': 'many', 'skipped': True}},
    }


def test_counters_add_up_by_role():
    account = item_account(_reports(), one_per_item=True)
    assert (account['produced'], account['skipped_late'], account['shed']) == (100, 3, 2)
    assert (account['failed'], account['predicted'], account['duplicates_dropped']) == (1, 97, 4)
    assert account['unaccounted'] == 0 and account['nodes'] == 4
    assert complete(account)


def test_unexplained_items_show_and_keep_the_run_open():
    lost = item_account(_reports(predicted=90), one_per_item=True)
    assert lost['unaccounted'] == 7 and not complete(lost)
    assert not complete(item_account(_reports(finished=0), one_per_item=True))


def test_synchronized_runs_have_no_per_item_remainder():
    account = item_account(_reports(), one_per_item=False)
    assert 'unaccounted' not in account and not complete(account)


def test_sources_ready_counts_only_sources_whose_writer_matched():
    reports = {
        '/s0': {'role': 'source', 'counts': {'ready': 1}},
        '/s1': {'role': 'source', 'counts': {'ready': 0}},
        '/s2': {'role': 'source', 'counts': {}},
        '/s3': {'role': 'source'},
        '/model': {'role': 'model', 'counts': {'ready': 1}},
    }
    assert sources_ready(reports) == 1
    assert sources_ready({}) == 0

"""Each topology runs from its YAML file with real node processes and predicts correctly."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]
CONFIGS = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'topologies'


def _run(config, domain_id, models_dir, *sets, seconds=6.0, netns=False):
    argv = [sys.executable, '-m', 'edgeserve_ros.topology.run', str(CONFIGS / config),
            '--json', '--seconds', str(seconds), '--domain-id', str(domain_id),
            '--models-dir', str(models_dir)]
    for item in sets:
        argv += ['--set', item]
    if netns:
        argv.append('--netns')
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, PYTHONUNBUFFERED='1'))
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]
    summary = [e for e in events if e.get('event') == 'summary']
    assert proc.returncode == 0 and summary, proc.stdout[-2000:] + proc.stderr[-3000:]
    return summary[-1]


# HAR through the runner: the multi-host test below (decentralized, one network namespace
# per host); centralized, parallel and decentralized HAR and the QR cameras also run through
# ros2 launch in test/launch (the same plan and start barrier), so they are not run twice


def test_nids_parallel_classifies_flows_and_accounts_for_every_one(domain_id, models_dir):
    # the run ends when every flow is accounted for (or after 120 s)
    summary = _run('nids.yaml', domain_id, models_dir, 'topology=parallel', 'count=100',
                   seconds=120.0)
    account = summary['account']
    print(f'\nNIDS parallel: {account}')
    assert account['sources'] == account['sources_finished'] == 4, account
    assert account['produced'] + account['skipped_late'] == 400, account
    assert account['unaccounted'] == 0 and account['predicted'] >= 200, account
    assert summary['example_accuracy'] >= 0.9, summary


@pytest.mark.multihost
def test_decentralized_har_across_network_namespaces(domain_id, models_dir):
    from edgeserve_ros.topology.netns import netns_available
    ok, reason = netns_available()
    if not ok:
        pytest.skip(reason)
    # 0.5x playback (as in test/launch): correctness across hosts, not the host's speed
    summary = _run('har.yaml', domain_id, models_dir, 'count=300', 'speed=0.5', netns=True)
    assert summary['predictions'] >= 50
    assert summary['agreed'] >= 25 and summary['agreed_accuracy'] >= 0.8, summary

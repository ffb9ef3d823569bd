"""``host:=``: one topology file, two ``ros2 launch`` on two hosts (network namespaces)."""

import pathlib
import shutil

import pytest
import yaml

from launched import assert_clean_exit, Launched

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.multihost,
              pytest.mark.skipif(shutil.which('ros2') is None, reason='ros2 CLI not installed')]
HAR = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'topologies' / 'har.yaml'


def _two_host_har(tmp_path):
    """HAR, centralized: the four sources on host ``edge``, model and monitor on ``leader``."""
    doc = yaml.safe_load(HAR.read_text())
    doc.update(topology='centralized', count=300, hosts=['leader', 'edge'])
    for source in doc['sources']:
        source['host'] = 'edge'
    path = tmp_path / 'har_two_hosts.yaml'
    path.write_text(yaml.safe_dump(doc))
    return path


def test_each_host_launches_its_part(domain_id, tmp_path, models_dir):
    from edgeserve_ros.topology.netns import NetnsLab, netns_available
    from edgeserve_ros.topology.run import load
    from edgeserve_ros.workloads.prepare import models_file
    ok, reason = netns_available()
    if not ok:
        pytest.skip(reason)
    config = _two_host_har(tmp_path)
    models_file(load(str(config), []), models_dir)  # trained once, for both hosts
    with NetnsLab(['leader', 'edge'], domain_id=domain_id) as lab:
        runs = {host: Launched(
            ['ros2', 'launch', 'edgeserve_ros', 'topology_launch.py', f'config:={config}',
             f'host:={host}', f'models_dir:={models_dir}'],
            {'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1'},
            popen=lambda argv, host=host, **kw: lab.popen(host, argv, **kw))
            for host in ('leader', 'edge')}
        try:
            leader = runs['leader']
            got = leader.wait_for(lambda _: any(e['predictions'] >= 30
                                                for e in leader.events('progress')), 120)
            assert got, leader.text()[-3000:] + runs['edge'].text()[-3000:]
            codes = {host: run.interrupt() for host, run in runs.items()}
        finally:
            for run in runs.values():
                run.close()
    for host, run in runs.items():
        assert_clean_exit(run, codes[host])
    started = {h: r.text().count('process started with pid') for h, r in runs.items()}
    assert started == {'leader': 3, 'edge': 4}, started  # sync + model + monitor; 4 sources
    progress = [e for e in leader.events('progress') if e['predictions'] >= 30][0]
    assert progress['example_accuracy'] >= 0.5, progress

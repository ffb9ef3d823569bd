"""``ros2 launch edgeserve_ros topology_launch.py``: predictions arrive, Ctrl-C is clean."""

import pathlib
import shutil

import pytest

from launched import assert_clean_exit, Launched

pytestmark = [pytest.mark.ros, pytest.mark.slow,
              pytest.mark.skipif(shutil.which('ros2') is None, reason='ros2 CLI not installed')]
CONFIGS = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'topologies'


def launch_topology(config, domain_id, models_dir, *args):
    """Start ``topology_launch.py`` on ``config`` with more ``name:=value`` arguments."""
    return Launched(['ros2', 'launch', 'edgeserve_ros', 'topology_launch.py',
                     f'config:={CONFIGS / config}', f'models_dir:={models_dir}', *args],
                    {'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1'})


def run_until(run, minimum, key='predictions', timeout=220.0):
    """
    Wait for a progress line of the monitor with ``key >= minimum``; Ctrl-C; return it.

    At a load average of 30 (other work on 2 cores) ten node processes took over 120 s to
    load their models: the deadline is generous.
    """
    try:
        got = run.wait_for(lambda _: any(e[key] >= minimum for e in run.events('progress')),
                           timeout)
        assert got, run.text()[-5000:]
        rc = run.interrupt()
    finally:
        run.close()
    assert_clean_exit(run, rc)
    return [e for e in run.events('progress') if e[key] >= minimum][0]


@pytest.mark.parametrize('topology', ['centralized', 'parallel', 'decentralized'])
def test_har_topologies_predict_and_stop_cleanly(topology, domain_id, models_dir):
    # 0.5x playback: at 2x, four streams through the models on a loaded 2-core host lag,
    # late votes are dropped and imputed members mix examples, so accuracy measured the
    # host (per-example 0.57-0.83 at load 5-11, 0.91-0.94 quiet); real-time figures are
    # benched (bench/har_paper)
    run = launch_topology('har.yaml', domain_id, models_dir, f'topology:={topology}',
                          'set:=count=400 speed=0.5')
    # 'agreed': predictions that used every member and whose inputs share one label. How
    # many of the first predictions agree measures the host (decentralized beside 2 CPU
    # burners: 9 of the first 60, local models lagging 270 ms), so the test waits for 40 of
    # them and checks what they say: 5 classes (chance 0.2); 0.78-0.85 under that load,
    # 0.94 quiet. At 0.78, 40 draws fall below 0.6 with probability 0.2 %
    progress = run_until(run, 40, key='agreed')
    print(f'\n{topology}: {progress}')
    assert progress['agreed_accuracy'] >= 0.6, progress


def test_nids_parallel_classifies_flows(domain_id, models_dir):
    run = launch_topology('nids.yaml', domain_id, models_dir, 'set:=count=100')
    progress = run_until(run, 60)
    assert progress['example_accuracy'] >= 0.8, progress


def test_qr_cameras_find_the_code(domain_id, models_dir):
    run = launch_topology('qr.yaml', domain_id, models_dir, 'set:=count=20')
    progress = run_until(run, 3)
    assert progress['real_time_accuracy'] >= 0.6, progress

"""The trace replay CLI, run as a subprocess, and the stock baselines."""

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeserve_ros.sync import baselines, replay

ROOT = Path(__file__).resolve().parents[2]
ARGS = ['--period', '0.1', '--max-skew', '0.02', '--max-age', '0.5']
TRACE = ('stream,seq,stamp,arrival\n'
         'a,1,1.0,1.01\nb,1,1.005,1.02\na,2,1.1,1.11\nb,2,1.102,1.12\n'
         'a,3,1.2,1.21\nb,3,1.21,1.22\na,4,1.3,1.31\n')


def cli(stdin, *args, env=None):
    """Run the replay CLI as a subprocess."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT / 'src'), **(env or {}))
    return subprocess.run([sys.executable, '-m', 'edgeserve_ros.sync.replay', *args],
                          input=stdin, capture_output=True, text=True, env=full_env,
                          cwd=ROOT, timeout=120)


def lines(res):
    """Return the parsed JSON lines of a run."""
    return [json.loads(x) for x in res.stdout.splitlines()]


def test_replay_outputs_one_json_object_per_tuple():
    """Replay outputs one json object per tuple."""
    res = cli(TRACE, *ARGS, '--policy', 'impute')
    assert res.returncode == 0 and res.stderr == ''
    out = lines(res)
    assert [round(o['tick'], 6) for o in out] == [1.01, 1.11, 1.21, 1.31]
    first = out[0]
    assert set(first) == {'t', 'tick', 'members'}
    assert first['members']['a'] == {'seq': 1, 'stamp': 1.0, 'state': 'fresh',
                                     'age': pytest.approx(0.01)}
    assert out[-1]['members']['b']['state'] == 'reused'
    assert all(o['tick'] <= o['t'] <= o['tick'] + 0.02 + 1e-9 for o in out)
    assert cli(TRACE.split('\n', 1)[1], *ARGS).stdout == res.stdout, 'header optional'


def test_replay_policies_and_empty_input():
    """Replay policies and empty input."""
    trace = 'a,1,0.0,0.0\nb,1,0.0,0.0\n' + ''.join(
        f'a,{k},{k / 10},{k / 10}\n' for k in range(2, 12))
    imp = lines(cli(trace, *ARGS, '--policy', 'impute'))
    part = lines(cli(trace, *ARGS, '--policy', 'partial'))
    skip = lines(cli(trace, *ARGS, '--policy', 'skip'))
    assert len(imp) == len(part) == 12 and len(skip) == 6
    assert imp[-1]['members']['b'] is None and part[3]['members']['b'] is None
    assert imp[3]['members']['b']['state'] == 'imputed'
    res = cli('', *ARGS)
    assert res.returncode == 0 and res.stdout == ''


@pytest.mark.parametrize('trace, needle', [
    ('a,1,1.0\n', 'line 1: expected 4 columns'),
    ('stream,seq,stamp,arrival\na,1,1.0,1.0\nb,1,1.0\n', 'line 3: expected 4 columns'),
    ('a,1,1.0,1.0\na,2,x,1.1\n', "line 2: stamp is not a number: 'x'"),
    ('a,1,1.0,1.0\na,2,1.1,nan\n', 'line 2: arrival is not finite'),
    ('a,one,1.0,1.0\n', 'line 1: seq is not an integer'),
    ('a,1,1.0,1.0\na,2,1.1,1.2\nb,1,1.0,1.1\n', 'line 3: arrival 1.1 is earlier'),
    (',1,1.0,1.0\n', 'line 1: empty stream name'),
])
def test_replay_bad_input(trace, needle):
    """Replay bad input."""
    res = cli(trace, *ARGS)
    assert res.returncode == 2 and res.stdout == ''
    assert res.stderr.count('\n') == 1 and needle in res.stderr


def test_replay_bad_parameters():
    """Replay bad parameters."""
    res = cli(TRACE, '--period', '0', '--max-skew', '0.02', '--max-age', '1')
    assert res.returncode == 2 and res.stderr.startswith('error: period:')
    res = cli(TRACE, *ARGS, '--queue-size', '0')
    assert res.returncode == 2 and 'queue_size' in res.stderr
    assert cli(TRACE, '--period', '0.1').returncode == 2
    assert cli(TRACE, *ARGS, '--policy', 'drop').returncode == 2


def _need(name):
    """Skip unless the packages of baseline ``name`` are installed."""
    if name == 'approx-ros2':
        if importlib.util.find_spec('message_filters') is None:
            pytest.skip('approx-ros2: ROS 2 message_filters not installed')
        return
    probe = {'approx-py': '/usr/lib/python3/dist-packages/message_filters/__init__.py',
             'approx-cpp': baselines._CPP_HEADER}[name]
    if not os.path.exists(probe):
        pytest.skip(f'{name}: Debian ROS 1 message_filters packages not installed')
    if name == 'approx-cpp' and shutil.which('g++') is None:
        pytest.skip('approx-cpp: g++ not installed')


@pytest.mark.parametrize('name', baselines.BASELINES)
def test_baseline_matches_pairs(name):
    """Baseline matches pairs."""
    _need(name)
    res = cli(TRACE, *ARGS, '--baseline', name)
    assert res.returncode == 0, res.stderr
    ros2 = name == 'approx-ros2'
    assert res.stderr.startswith('baseline: ROS 2 message_filters 4.' if ros2
                                 else 'baseline: ROS 1 message_filters 1.15')
    assert ('python' in res.stderr) == (name != 'approx-cpp')
    out = lines(res)
    assert [[o['members'][s]['seq'] for s in 'ab'] for o in out] == [[1, 1], [2, 2], [3, 3]]
    for o in out:
        assert o['t'] == o['tick']
        assert all(m['state'] == 'fresh' for m in o['members'].values())
    expected_t = [1.11, 1.21, 1.31] if name == 'approx-cpp' else [1.02, 1.12, 1.22]
    assert [o['t'] for o in out] == pytest.approx(expected_t)


@pytest.mark.parametrize('name', baselines.BASELINES)
def test_baseline_stream_count_limits(name):
    """Baseline stream count limits."""
    _need(name)
    res = cli('a,1,1.0,1.0\na,2,1.1,1.1\n', *ARGS, '--baseline', name)
    assert res.returncode == 2 and 'at least 2 streams' in res.stderr
    if name == 'approx-cpp':
        many = ''.join(f's{i},1,1.0,1.0\n' for i in range(10))
        res = cli(many, *ARGS, '--baseline', name)
        assert res.returncode == 2 and '2..9 streams' in res.stderr
        nine = ''.join(f's{i},1,1.0{i},1.1\n' for i in range(9))
        res = cli(nine, *ARGS, '--baseline', name)
        assert res.returncode == 0 and res.stderr.startswith('baseline:')


def test_missing_baseline_packages_exit_2(monkeypatch):
    """Missing baseline packages exit 2."""
    monkeypatch.setattr(baselines, '_PY_FILES', ('/nonexistent/message_filters',))
    monkeypatch.setattr(baselines, '_CPP_HEADER', '/nonexistent/approximate_time.h')
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None
                        if name == 'message_filters' else real_find_spec(name, *a))
    for name, package in [('approx-py', 'python3-message-filters'),
                          ('approx-cpp', 'libmessage-filters-dev'),
                          ('approx-ros2', 'ROS 2 message_filters')]:
        err = io.StringIO()
        code = replay.main([*ARGS, '--baseline', name], stdin=io.StringIO(TRACE),
                           stdout=io.StringIO(), stderr=err)
        assert code == 2 and package in err.getvalue()
        assert err.getvalue().count('\n') == 1

"""ament linters as tests: flake8 and pep257 (ament_flake8, ament_pep257) and mypy."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PATHS = [str(ROOT / p) for p in ('src', 'test', 'bench', 'launch', 'scripts')
         if (ROOT / p).exists()]


@pytest.mark.linter
def test_flake8():
    # In a child process: flake8 forks its checkers, and a fork of this process (threads of
    # rclpy, torch and earlier tests) can inherit a lock held by another thread and hang.
    pytest.importorskip('ament_flake8.main')
    proc = subprocess.run([sys.executable, '-m', 'ament_flake8.main', '--config',
                           str(ROOT / 'test' / 'flake8.ini'), *PATHS],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


@pytest.mark.linter
def test_pep257():
    ament_pep257 = pytest.importorskip('ament_pep257.main')
    rc = ament_pep257.main(argv=[str(ROOT / 'src'), '--add-ignore', 'D100,D104,D105,D107'])
    assert rc == 0, 'pep257 errors, see output above'


def _mypy_cache() -> str:
    """Keep mypy's cache beside the venv, so a fresh clone reuses the analysis of its deps."""
    base = os.environ.get('EDGESERVE_CACHE', os.path.expanduser('~/.cache/edgeserve_ros'))
    return os.path.join(base, 'mypy')


@pytest.mark.linter
def test_mypy():
    pytest.importorskip('mypy')
    proc = subprocess.run([sys.executable, '-m', 'mypy', '--config-file',
                           str(ROOT / 'setup.cfg'), '--cache-dir', _mypy_cache(),
                           str(ROOT / 'src' / 'edgeserve_ros')],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]

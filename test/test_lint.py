"""ament linters as tests: flake8 and pep257 (ament_flake8, ament_pep257) and mypy."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PATHS = [str(ROOT / p) for p in ('src', 'test', 'bench', 'launch', 'scripts')
         if (ROOT / p).exists()]


@pytest.mark.linter
def test_flake8():
    ament_flake8 = pytest.importorskip('ament_flake8.main')
    rc, errors = ament_flake8.main_with_errors(
        argv=['--config', str(ROOT / 'test' / 'flake8.ini'), *PATHS])
    assert rc == 0, f'{len(errors)} flake8 error(s):\n' + '\n'.join(errors[:50])


@pytest.mark.linter
def test_pep257():
    ament_pep257 = pytest.importorskip('ament_pep257.main')
    rc = ament_pep257.main(argv=[str(ROOT / 'src'), '--add-ignore', 'D100,D104,D105,D107'])
    assert rc == 0, 'pep257 errors, see output above'


@pytest.mark.linter
def test_mypy():
    pytest.importorskip('mypy')
    proc = subprocess.run([sys.executable, '-m', 'mypy', '--config-file',
                           str(ROOT / 'setup.cfg'), str(ROOT / 'src' / 'edgeserve_ros')],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]

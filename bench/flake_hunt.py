"""
Flake hunt: run README command 2 (``scripts/dev test``) N times, some beside CPU burners.

Each run is the whole suite exactly as CI runs it, in the checkout given by ``--repo``
(default: this one; give a fresh clone for the acceptance run). ``--burners K`` starts K
``yes > /dev/null`` processes beside the last ``--burner-runs`` runs and kills them by PID
afterwards. Prints and writes (``bench/results/flake_hunt.{md,csv,png}``) a table of
failures per test and per run, with each run's wall time.

    bash scripts/dev bench flake_hunt --runs 5 --burner-runs 2 --burners 2 --repo /tmp/clone
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple
import xml.etree.ElementTree as ET

from _common import machine_info, md_table, progress, pyplot, save_figure, write_csv, write_md

NAME = 'flake_hunt'


def _burners(count: int) -> List[subprocess.Popen]:
    return [subprocess.Popen(['yes'], stdout=subprocess.DEVNULL) for _ in range(count)]


def _stop(procs: List[subprocess.Popen]) -> None:
    for proc in procs:
        proc.kill()
        proc.wait()


def _outcomes(junit: str) -> Dict[str, str]:
    """Return test id -> passed | failed | error | skipped, from a junit XML file."""
    out: Dict[str, str] = {}
    if not os.path.exists(junit):
        return out
    for case in ET.parse(junit).getroot().iter('testcase'):
        test = f'{case.get("classname", "")}::{case.get("name", "")}'
        kinds = [child.tag for child in case]
        out[test] = next((k for k in ('failure', 'error', 'skipped') if k in kinds), 'passed')
        out[test] = {'failure': 'failed'}.get(out[test], out[test])
    return out


def _run_suite(repo: str, junit: str, extra: List[str]) -> Tuple[int, float]:
    begin = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ('VIRTUAL_ENV', 'AMENT_PREFIX_PATH',
                                                            'CMAKE_PREFIX_PATH', 'PYTHONPATH')}
    proc = subprocess.run(['bash', os.path.join(repo, 'scripts', 'dev'), 'test', '-q',
                           '-p', 'no:cacheprovider', f'--junitxml={junit}', *extra],
                          cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    tail = proc.stdout.strip().splitlines()[-1:] or ['']
    progress(f'  exit {proc.returncode}: {tail[0]}')
    return proc.returncode, time.monotonic() - begin


def main() -> int:
    """Run the suite ``--runs`` times and report failures per test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--burner-runs', type=int, default=2,
                        help='how many of the runs (the last ones) have burners beside them')
    parser.add_argument('--burners', type=int, default=2, help='CPU burners per such run')
    parser.add_argument('--repo', default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), help='checkout whose scripts/dev test is run')
    parser.add_argument('--name', default=NAME,
                        help=f'results name under bench/results (default {NAME})')
    parser.add_argument('pytest_args', nargs='*', help='extra pytest arguments')
    args = parser.parse_args()
    runs, failures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            burn = i >= args.runs - args.burner_runs
            progress(f'run {i + 1}/{args.runs}' + (f' beside {args.burners} CPU burners'
                                                   if burn else ''))
            burners = _burners(args.burners) if burn else []
            try:
                code, seconds = _run_suite(args.repo, f'{tmp}/run{i}.xml', args.pytest_args)
            finally:
                _stop(burners)
            outcomes = _outcomes(f'{tmp}/run{i}.xml')
            bad = sorted(t for t, o in outcomes.items() if o in ('failed', 'error'))
            for test in bad:
                failures.setdefault(test, []).append(i + 1)
            counts = {k: sum(o == k for o in outcomes.values())
                      for k in ('passed', 'failed', 'error', 'skipped')}
            runs.append((i + 1, args.burners if burn else 0, code, round(seconds),
                         *counts.values()))
    headers = ['run', 'CPU burners', 'exit', 'wall s', 'passed', 'failed', 'errors', 'skipped']
    per_test = [(t, len(r), ', '.join(map(str, r))) for t, r in sorted(failures.items())]
    write_csv(args.name, headers, runs)
    total = sum(r[5] + r[6] for r in runs)
    sections = [
        ('Result', f'{args.runs} runs of `scripts/dev test {" ".join(args.pytest_args)}`'
                   f' in `{args.repo}`, the last '
                   f'{args.burner_runs} beside {args.burners} CPU burners (`yes`): '
                   f'**{total} failures**, slowest run {max(r[3] for r in runs)} s.'),
        ('Runs', md_table(headers, runs)),
        ('Failures per test', md_table(['test', 'failed runs', 'which'], per_test)
         if per_test else 'none'),
    ]
    path = write_md(args.name, 'Flake hunt: the whole suite, repeated', sections, machine_info())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar([str(r[0]) for r in runs], [r[3] for r in runs],
           color=['tab:red' if r[1] else 'tab:blue' for r in runs])
    ax.axhline(480, color='gray', linestyle='--', label='8 min budget')
    ax.set_xlabel('run (red: beside CPU burners)')
    ax.set_ylabel('suite wall time, s')
    ax.set_title(f'{total} failures in {args.runs} runs')
    ax.legend()
    save_figure(fig, args.name)
    print(open(path).read())
    return 0 if total == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

"""Fuzz at bench scale: 10,000 hypothesis cases per target, crashes and memory (issue 7).

The suite runs the same property tests with a few hundred cases (``FUZZ_EXAMPLES``
unset). Here each target runs as its own ``pytest`` child with ``FUZZ_EXAMPLES=N``, and
this process samples the child's resident memory every ``--interval`` seconds:

- ``topology``: mutated shipped topology files, planned or rejected naming a key;
- ``node_params``: any value for any parameter of every node (in-process rclpy nodes,
  created and destroyed per case): the node starts or refuses naming the parameter;
- ``trace``: the replay CLI's trace reader, parsed or rejected naming the line;
- ``fetch_answer``: any FetchPayload request gets one bounded entry per seq.

A target passes when pytest passes (0 crashes, 0 falsified properties). The child logs
its own RSS every 5 % of the cases (``FUZZ_RSS_LOG``, ``conftest.fuzz_case``); RSS growth
is the RSS after the last logged case over the RSS after ``--warmup`` (20 %) of the cases
(imports, hypothesis's first phases and the first nodes are warm-up). Hypothesis itself keeps state
per case (its tree of the choices made so far), so each target also runs as a **control**
(``FUZZ_CONTROL=1``): the same test draws the same kinds of inputs for as many cases and
skips the code under test. Memory is bounded when the growth beyond the control's
(target growth minus control growth, MiB) is within ``--growth`` of the target's RSS after
warm-up.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import threading
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (exit_on_sigterm, fmt, machine_info, md_table, MIB, progress, pyplot,
                     run_and_report, save_figure, targets_table, write_csv, write_md)
from _nodes import rss_bytes

NAME = 'fuzz'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {
    'topology': 'test/fuzz/test_fuzz_topology.py',
    'node_params': 'test/fuzz/test_fuzz_node_params.py',
    'trace': 'test/fuzz/test_fuzz_trace.py',
    'fetch_answer': 'test/dataplane/test_serve.py::test_any_request_gets_a_bounded_answer_per_seq',
}
_COUNTS = re.compile(r'(\d+) (passed|failed|error|errors|skipped)')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--examples', type=int, default=10000, help='hypothesis cases per test')
    p.add_argument('--targets', default=','.join(TARGETS), help='comma-separated subset')
    p.add_argument('--interval', type=float, default=0.5, help='RSS sampling period, s')
    p.add_argument('--growth', type=float, default=0.10, help='allowed RSS growth after warm-up')
    p.add_argument('--warmup', type=float, default=0.2, help='warm-up fraction of the cases')
    p.add_argument('--domains', default='40-49', help='EDGESERVE_TEST_DOMAINS of the children')
    p.add_argument('--name', default=NAME)
    args = p.parse_args(argv)
    args.targets = [t for t in args.targets.split(',') if t]
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        p.error(f'--targets: unknown {unknown}; choose from {", ".join(TARGETS)}')
    return args


def run_target(args: argparse.Namespace, target: str, control: bool = False
               ) -> Dict[str, Any]:
    """Run one target's pytest child (its control: inputs drawn, code skipped); outcome, RSS."""
    log = tempfile.NamedTemporaryFile('r', prefix='fuzz_rss_', suffix='.txt')
    env = dict(os.environ, FUZZ_EXAMPLES=str(args.examples), FUZZ_CONTROL=str(int(control)),
               FUZZ_RSS_LOG=log.name, EDGESERVE_TEST_DOMAINS=args.domains,
               PYTHONUNBUFFERED='1')
    label = f'{target} (control)' if control else target
    cmd = [sys.executable, '-m', 'pytest', TARGETS[target], '-q', '-p', 'no:cacheprovider',
           '-o', 'timeout=0']
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    samples: List[tuple] = []
    out: List[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout or []), daemon=True)
    reader.start()
    last_note = start
    while proc.poll() is None:
        rss = rss_bytes(proc.pid)
        if rss:
            samples.append((time.monotonic() - start, rss))
        if time.monotonic() - last_note > 30:
            last_note = time.monotonic()
            progress(f'{label}: {last_note - start:.0f} s, RSS {rss / MIB:.0f} MiB')
        time.sleep(args.interval)
    reader.join(timeout=10)
    wall = time.monotonic() - start
    text = ''.join(out)
    last_line = text.splitlines()[-1] if text else ''
    counts = {kind.rstrip('s'): int(n) for n, kind in _COUNTS.findall(last_line)}
    by_case = [tuple(map(int, line.split())) for line in log.read().splitlines()]
    log.close()
    warm = [r for c, r in by_case if c >= args.warmup * args.examples] or [0]
    result = {'target': target, 'control': control, 'rc': proc.returncode, 'wall': wall,
              'samples': samples, 'by_case': by_case, 'passed': counts.get('passed', 0),
              'failed': counts.get('failed', 0) + counts.get('error', 0),
              'rss_warm': warm[0], 'rss_last': warm[-1],
              'rss_peak': max(r for _, r in samples) if samples else 0,
              'tail': text[-3000:]}
    result['growth'] = (result['rss_last'] - result['rss_warm']) / max(result['rss_warm'], 1)
    progress(f'{label}: rc {proc.returncode}, {result["passed"]} passed, '
             f'{result["failed"]} failed, {wall:.0f} s, growth {100 * result["growth"]:.1f} %')
    if proc.returncode != 0:
        progress(result['tail'])
    return result


def run(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Run every target in turn, each followed by its control."""
    return [run_target(args, t, control) for t in args.targets for control in (False, True)]


def _beyond_control(results: List[Dict[str, Any]]) -> Dict[str, float]:
    """Per target: RSS growth (bytes) beyond its control's, over the target's warm RSS."""
    grown = {(r['target'], r['control']): r['rss_last'] - r['rss_warm'] for r in results}
    warm = {r['target']: r['rss_warm'] for r in results if not r['control']}
    return {t: (grown[(t, False)] - grown.get((t, True), 0)) / max(w, 1)
            for t, w in warm.items()}


def report(args: argparse.Namespace, results: List[Dict[str, Any]], wall: float) -> None:
    """Write the table, the CSV of RSS samples and the RSS plot."""
    beyond = _beyond_control(results)
    rows = [(r['target'] + (' (control)' if r['control'] else ''), args.examples, r['passed'],
             r['failed'], r['rc'], fmt(r['wall'], 0),
             fmt(r['rss_warm'] / MIB, 1), fmt(r['rss_peak'] / MIB, 1),
             fmt(r['rss_last'] / MIB, 1), f'{100 * r["growth"]:+.1f} %',
             '' if r['control'] else f'{100 * beyond[r["target"]]:+.1f} %') for r in results]
    crashes = sum(r['failed'] + (r['rc'] != 0) for r in results)
    worst = max(beyond, key=lambda t: beyond[t])
    targets = [
        (f'0 crashes or falsified properties, {args.examples} cases per test',
         f'{crashes} over {len(args.targets)} targets and their controls', crashes == 0),
        (f'bounded memory: RSS growth after {100 * args.warmup:.0f} % of the cases, beyond '
         f'its control\'s, <= {100 * args.growth:.0f} %',
         f'worst {worst} {100 * beyond[worst]:+.1f} %', beyond[worst] <= args.growth),
    ]
    table = md_table(['target', 'cases per test', 'tests passed', 'tests failed', 'rc',
                      'wall s', 'RSS after warm-up MiB', 'peak MiB', 'last MiB', 'growth',
                      'growth beyond control'], rows)
    write_md(args.name, f'Fuzz: {args.examples} hypothesis cases per test, crashes and memory',
             [('Targets', targets_table(targets)), ('Results', table),
              ('Method', __doc__.split('\n', 2)[2])], machine_info())
    write_csv(args.name, ['target', 'control', 'case', 'rss_mib'],
              [(r['target'], int(r['control']), c, round(b / MIB, 2))
               for r in results for c, b in r['by_case']])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    colours = {t: f'C{i}' for i, t in enumerate(args.targets)}
    for r in results:
        ax.plot([c for c, _ in r['by_case']], [b / MIB for _, b in r['by_case']],
                label=r['target'] + (' (control)' if r['control'] else ''),
                color=colours[r['target']], linestyle='--' if r['control'] else '-')
    ax.axvline(args.warmup * args.examples, color='grey', linewidth=0.8)
    ax.set_xlabel('fuzz cases run')
    ax.set_ylabel('pytest child RSS, MiB')
    ax.set_title(f'Fuzz RSS, {args.examples} cases per test (dashed: control)')
    ax.legend(fontsize=7)
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the fuzz targets and write bench/results/fuzz.*."""
    exit_on_sigterm()
    return run_and_report(parse_args(argv), run, report)


if __name__ == '__main__':
    sys.exit(main())

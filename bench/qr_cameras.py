"""Multi-camera QR tracking, lazy vs eager, with and without a limited link (paper Table 1).

``config/topologies/qr.yaml``: two camera sources (``workload_source`` qr parts 0 and 1,
1920x1080 mono8 frames, ~2 MB each) on hosts ``cam0`` and ``cam1``, and the prediction node
(``sync_node`` + ``model_node`` with ``qr_all`` = ``edgeserve_ros.models.qr_pair.track_pair``)
on host ``leader``. Every host is its own network namespace (UDP DDS between hosts, the
runner's ``--netns``). Cases: ``delivery`` lazy / eager x leader link unlimited / limited
with ``tbf`` (``NetnsLab.shape``, both directions).

Measured at the monitor (on the leader):

- total working duration = last prediction arrival - due time of frame 0 (paper 6.2.1);
- frames processed/s = synchronized pairs predicted / total working duration;
- % found in both = predictions whose code was decoded in both cameras' frames, of the
  pairs predicted and of the frames played.

There is no broker in ROS 2 / DDS: the paper's "leader" relays eager frames; here the
limited link is the prediction host's own (the leader of the file runs the prediction
node), so lazy saves only the frames the prediction side never fetches (pairs the sync node
skips while the model is busy: ``policy: skip``, ``max_age`` 1 s).
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
from typing import Any, Dict, List, Optional, Sequence

from _common import (BENCH_DIR, exit_on_sigterm, fmt, machine_info, md_table, progress,
                     pyplot, ratio, save_figure, targets_table, write_csv, write_md)

from edgeserve_ros.ros.dds_profile import profile_path, profile_variable, VARIABLES
from edgeserve_ros.topology.deploy import run_topology
from edgeserve_ros.topology.netns import netns_available
from edgeserve_ros.topology.run import DEFAULT_MODELS_DIR, load

NAME = 'qr_cameras'
DOMAIN_ID = 163
CONFIG = os.path.join(os.path.dirname(BENCH_DIR), 'config', 'topologies', 'qr.yaml')
PAPER = {('lazy', False): '3m10s', ('lazy', True): '3m12s', ('eager', False): '3m16s',
         ('eager', True): '21m32s'}
PAPER_LIMIT = {'lazy': '1 Mbps', 'eager': '20 Mbps'}
PROFILE_ENV = VARIABLES + ('RMW_FASTRTPS_PUBLICATION_MODE',)
CONSTRAINED = profile_path(os.path.join(os.path.dirname(BENCH_DIR), 'config'),
                           'fastdds_constrained')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true',
                   help='< 1 min: 10 frames per camera, limited link only')
    p.add_argument('--frames', type=int, default=None, help='frames per camera (default 20)')
    p.add_argument('--limit-mbit', type=float, default=20.0,
                   help='leader link limit of the limited cases, Mbit/s (both modes)')
    p.add_argument('--speed', type=float, default=1.0, help='playback speed (30 fps x speed)')
    p.add_argument('--limited-profile', default=CONSTRAINED,
                   help='Fast DDS profile of every node in the limited cases, with '
                        'asynchronous publication ("": the default profile)')
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID, help='ROS_DOMAIN_ID of the run')
    p.add_argument('--name', default=NAME)
    return p.parse_args(argv)


def measure(delivery: str, limit: Optional[float], frames: int, speed: float,
            profile: str = '', domain_id: int = DOMAIN_ID) -> Dict[str, Any]:
    """Run one case (its nodes with Fast DDS profile ``profile`` if given); return its row."""
    saved = {k: os.environ.get(k) for k in PROFILE_ENV}
    if profile:
        for key in VARIABLES:
            os.environ.pop(key, None)
        os.environ.update({profile_variable(): profile},
                          RMW_FASTRTPS_PUBLICATION_MODE='ASYNCHRONOUS')
    try:
        return _measure(delivery, limit, frames, speed, domain_id)
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.update({key: value})


def _measure(delivery: str, limit: Optional[float], frames: int,
             speed: float, domain_id: int) -> Dict[str, Any]:
    spec = load(CONFIG, [f'delivery={delivery}', f'count={frames}', f'speed={speed}'])
    from edgeserve_ros.workloads.prepare import models_file
    models = str(models_file(spec, pathlib.Path(DEFAULT_MODELS_DIR)))
    shape = {'leader': limit} if limit else {}
    budget = 60.0 + (frames * 2 * 2.1 * 8 / limit if limit else 0.0) * 2.0
    s = run_topology(spec, domain_id=domain_id, models=models, netns=True, shape=shape,
                     expect=frames, idle=8.0, seconds=budget, startup=max(budget, 90.0),
                     params={'model': {'fetch_timeout': 10.0}})
    n = s['predictions']
    duration = (s['last'] - s['start_time']) if n else float('nan')
    return {'delivery': delivery, 'limit_mbit': limit or 0, 'frames': frames, 'pairs': n,
            'duration_s': duration, 'fps': ratio(n, duration),
            'found_both': s.get('found_in_all', 0),
            'found_pct_pairs': 100.0 * ratio(s.get('found_in_all', 0), n),
            'found_pct_frames': 100.0 * ratio(s.get('found_in_all', 0), frames),
            'e2e_p50_ms': s.get('e2e_p50_ms')}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the four cases; write the report."""
    args = parse_args(argv)
    exit_on_sigterm()
    ok, why = netns_available()
    if not ok:
        progress(f'network namespaces unavailable: {why}')
        return 1
    frames = args.frames or (10 if args.quick else 20)
    limits: List[Optional[float]] = [args.limit_mbit] if args.quick else [None, args.limit_mbit]
    rows = []
    for limit in limits:
        for delivery in ('lazy', 'eager'):
            row = measure(delivery, limit, frames, args.speed,
                          args.limited_profile if limit else '', args.domain_id)
            rows.append(row)
            progress(f'{delivery} limit {limit or "none"}: {row["pairs"]}/{frames} pairs in '
                     f'{row["duration_s"]:.1f} s ({row["fps"]:.2f} frames/s), found in both '
                     f'{row["found_both"]}')
    report(args, rows, frames)
    return 0


def _rel(path: str) -> str:
    return os.path.relpath(path, os.path.dirname(BENCH_DIR))


def _mmss(seconds: float) -> str:
    if seconds != seconds:
        return '-'
    return f'{int(seconds // 60)}m{seconds % 60:04.1f}s'


def report(args: argparse.Namespace, rows: List[Dict[str, Any]], frames: int) -> None:
    """Write md, csv and png."""
    write_csv(args.name, ['delivery', 'limit_mbit', 'frames_per_camera', 'pairs_predicted',
                          'duration_s', 'frames_per_s', 'found_in_both', 'found_pct_of_pairs',
                          'found_pct_of_frames', 'e2e_p50_ms'],
              [(r['delivery'], r['limit_mbit'], r['frames'], r['pairs'], fmt(r['duration_s'], 3),
                fmt(r['fps'], 3), r['found_both'], fmt(r['found_pct_pairs'], 1),
                fmt(r['found_pct_frames'], 1), r['e2e_p50_ms']) for r in rows])
    table = md_table(
        ['delivery', 'leader link', 'total working duration', 'pairs predicted / frames',
         'frames processed/s', 'found in both (% of pairs / % of frames)',
         'e2e p50 (ms)', 'paper duration (150 frames)'],
        [(r['delivery'], f'{r["limit_mbit"]:g} Mbit/s' if r['limit_mbit'] else 'unlimited',
          _mmss(r['duration_s']), f'{r["pairs"]}/{frames}', fmt(r['fps'], 2),
          f'{fmt(r["found_pct_pairs"], 1)} / {fmt(r["found_pct_frames"], 1)}',
          r['e2e_p50_ms'],
          PAPER[(r['delivery'], bool(r['limit_mbit']))] + (
              f' ({PAPER_LIMIT[r["delivery"]]})' if r['limit_mbit'] else ''))
         for r in rows])
    by = {(r['delivery'], bool(r['limit_mbit'])): r for r in rows}
    targets = []
    if ('lazy', True) in by and ('eager', True) in by:
        lz, eg = by[('lazy', True)], by[('eager', True)]
        # no eager prediction within the run's budget counts as longer than any lazy run
        eager_s = eg['duration_s'] if eg['pairs'] else math.inf
        targets.append(('limited link: lazy total working duration < eager (paper 3m12s vs '
                        '21m32s)', f'{_mmss(lz["duration_s"])} vs '
                        f'{_mmss(eager_s) if eg["pairs"] else "no prediction in the budget"}',
                        lz['duration_s'] < eager_s))
    if ('lazy', False) in by and ('lazy', True) in by:
        a, b = by[('lazy', False)]['duration_s'], by[('lazy', True)]['duration_s']
        targets.append(('lazy tolerant of the limit: limited duration within 1.5x of '
                        'unlimited (paper 3m12s vs 3m10s)', f'{_mmss(b)} vs {_mmss(a)}',
                        b <= 1.5 * a))
    method = (
        f'`config/topologies/qr.yaml` with `delivery`, `count: {frames}` and `speed: '
        f'{args.speed:g}` overridden; nodes from `topology.plan.plan`, one network namespace '
        'per host (`cam0`, `cam1`, `leader`; FASTDDS UDPv4 between them). The sync node and '
        'the `qr_all` model node run on `leader`; the limited cases shape the leader\'s link '
        f'with `tbf` at {args.limit_mbit:g} Mbit/s both ways (`NetnsLab.shape`), and run every '
        'node with the Fast DDS profile '
        f'`{_rel(args.limited_profile) if args.limited_profile else "(default)"}` '
        'and `RMW_FASTRTPS_PUBLICATION_MODE=ASYNCHRONOUS` (writers paced to 1 MB/s: without '
        'pacing, the frames\' bursts overflow the tbf queue and no fetch completed in 30 s); '
        'the unlimited cases use `config/fastdds.xml`. The model node has `max_pending: 2` '
        '(qr.yaml): it fetches the newest pairs and skips the others. The cameras '
        'start at the start barrier of `topology.deploy` (every node up, each camera\'s writer '
        'matched); the '
        'model node\'s `fetch_timeout` is '
        '10 s (default 2 s: two 2 MB frames over a 20 Mbit/s link take ~1.7 s); the run '
        'ends when every pair is predicted or after 8 s without a prediction. Total '
        'working duration = last '
        'prediction - due time of frame 0. Lazy: only headers are pushed, the model node '
        'fetches the two frames of each synchronized pair it predicts; eager: every frame '
        'travels inline to the sync node.\n\nThere is no broker in DDS, so unlike the paper '
        '(eager frames relayed through the leader), the limited link here is the prediction '
        'host\'s: lazy only saves the frames that are never fetched (pairs skipped by the sync '
        'node while the model is busy).')
    write_md(args.name, 'Multi-camera QR tracking: lazy vs eager delivery (paper Table 1)', [
        ('Targets', targets_table(targets)),
        ('Results', table),
        ('Method', method),
        ('Scaled', f'{frames} frames per camera (paper: 150) at {30 * args.speed:g} fps; one '
                   f'link limit of {args.limit_mbit:g} Mbit/s for both modes (paper: 1 Mbps '
                   'lazy, 20 Mbps eager), chosen so the eager run stays short.'),
    ], machine_info())
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    labels = [f'{r["delivery"]}\n{"limit" if r["limit_mbit"] else "no limit"}' for r in rows]
    ax[0].bar(labels, [r['duration_s'] for r in rows], color='tab:blue')
    ax[0].set(ylabel='s', title='total working duration')
    ax[1].bar(labels, [r['fps'] for r in rows], color='tab:green')
    ax[1].set(ylabel='frames/s', title='frames processed per second')
    for a in ax:
        a.grid(alpha=0.3, axis='y')
    save_figure(fig, args.name)
    progress(f'wrote bench/results/{args.name}.md/.csv/.png')


if __name__ == '__main__':
    sys.exit(main())

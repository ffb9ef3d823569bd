"""
Seed-001 replay: images through the gateway to a shared queue and workers on other hosts.

The socket image-recognition cluster of ``../shared/seeds/socket-image-recognition-cluster.txt``
as this project runs it: a manager host (network namespace) runs ``web_gateway_node`` and
the ``shared_queue_node`` of one model, and 1-3 worker hosts each run one ``queue_worker``
(all started from ``web.launch_plan.web_plan``, the launch file's code path; Fast DDS over
UDPv4 between the namespaces). A client on the manager host sends ``--images`` (120) 640x480
JPEGs (~50 KiB, rendered here) over one WebSocket, all in flight at once, and waits for
every answer. The model is a stand-in with a fixed cost (``fixed_delay``, ``--model-ms``
100 ms per image, like the seed's recognition on a small node): it sleeps, so worker hosts
scale as separate machines would even on 2 shared cores. Each worker pulls ``--batch`` (4)
images at a time and keeps up to ``--prefetch`` (3) micro-batches pulled ahead while its
model runs. The queue sends the images in its pull answers (inline, ``inline_bytes``: the
workers are on other hosts, the gateway's ring on the queue's), so a worker fetches
nothing: with 500 ms on the link a pull answer takes 0.5 s, 1.25 micro-batches of model
time, and each pull asks for at least the 2 micro-batches that run while it travels.

Cells, as in the seed: 1 / 2 / 3 workers; 3 workers with one of them failing on each image
with probability 0.1 / 0.3 / 0.5 (``queue_worker`` ``fault_drop``: the image is dropped,
neither fetched nor answered; the queue re-sends it at the worker's next pull); 3 workers
with 100 / 300 / 500 ms delay (``fault_delay``: every pull and fetch answer reaches the
worker that much later) and 5 / 10 / 15 % loss (``fault_loss``: an image's message, or a
whole pull answer, is lost; re-sent at the next pull) on every worker's link. The kernel
has no netem, so this is the project's fault layer (:mod:`edgeserve_ros.models.link_faults`),
applied inside each worker to what it receives. ``--runs`` (5) runs per cell on the same
processes. Throughput = image bytes / total time (the seed's
bps) and images/s, with t-based 95% confidence intervals over the runs (mean +- t * s /
sqrt(n): the seed's own intervals are far too narrow for their standard deviations), and
per-image latency p50/p99. Every image must be answered once: lost and duplicate results
are counted (the queue's ``duplicates`` counter). Costs are against the 3-worker cell of
the same run, the seed's against its own 3-worker mean.

    scripts/dev bench web_seed001 [--runs 5] [--images 60]

Writes bench/results/web_seed001.{md,csv,png}.
"""

import argparse
import asyncio
import json
import math
import os
import re
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence

import _common as C
from _nodes import NodeProcs
import numpy as np

NAME = 'web_seed001'
MODEL = 'seed'
WORKER_HOSTS = ['w1', 'w2', 'w3']
CELLS = [('workers', 1, 0.0), ('workers', 2, 0.0), ('workers', 3, 0.0),
         ('failure', 3, 0.1), ('failure', 3, 0.3), ('failure', 3, 0.5),
         ('delay', 3, 0.1), ('delay', 3, 0.3), ('delay', 3, 0.5),
         ('loss', 3, 0.05), ('loss', 3, 0.10), ('loss', 3, 0.15)]
#: the seed's means (bps) per cell, for the table
SEED_BPS = {('workers', 1, 0.0): 8561598.25, ('workers', 2, 0.0): 12723510.75,
            ('workers', 3, 0.0): 16289293.86, ('failure', 3, 0.1): 16070281.25,
            ('failure', 3, 0.3): 15071851.25, ('failure', 3, 0.5): 14571530.38,
            ('delay', 3, 0.1): 11692071.38, ('delay', 3, 0.3): 7384498.625,
            ('delay', 3, 0.5): 6174356.875, ('loss', 3, 0.05): 14248063.75,
            ('loss', 3, 0.10): 8262429.625, ('loss', 3, 0.15): 3002189.625}
#: cell kind -> the queue_worker fault parameter it sets (failure: on w1 only)
FAULT_PARAM = {'failure': 'fault_drop', 'delay': 'fault_delay', 'loss': 'fault_loss'}
MODULES = {'shared_queue_node': 'edgeserve_ros.models.shared_queue_node',
           'queue_worker': 'edgeserve_ros.models.queue_worker',
           'web_gateway_node': 'edgeserve_ros.web.web_gateway_node'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--role', default='main', choices=('main', 'client'))
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--images', type=int, default=120)
    parser.add_argument('--batch', type=int, default=4, help='images per pull (max_batch)')
    parser.add_argument('--prefetch', type=int, default=3,
                        help="queue_worker prefetch: micro-batches pulled and fetched ahead")
    parser.add_argument('--model-ms', type=float, default=100.0)
    parser.add_argument('--domain-id', type=int, default=71)
    parser.add_argument('--port-file', default='')
    parser.add_argument('--kinds', default='workers,failure,delay,loss',
                        help='comma-separated cell kinds to run')
    parser.add_argument('--name', default=NAME)
    return parser.parse_args(argv)


# -- client (runs on the manager host) ---------------------------------------------------

def render(count: int) -> List[bytes]:
    """Return ``count`` distinct 640x480 JPEGs (moving shapes on noise, quality 85)."""
    import cv2
    rng = np.random.default_rng(1)
    out = []
    for i in range(count):
        img = cv2.GaussianBlur(rng.integers(0, 60, (480, 640, 3), dtype=np.uint8), (3, 3), 0)
        cv2.circle(img, (int(320 + 250 * np.sin(i / 7)), 240), 70, (0, 180, 255), -1)
        cv2.putText(img, f'seed001 {i}', (20, 460), cv2.FONT_HERSHEY_SIMPLEX, 1.2,
                    (255,) * 3, 2)
        out.append(cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return out


async def one_run(url: str, frames: Sequence[bytes]) -> Dict[str, Any]:
    import websockets
    from edgeserve_ros.web.frames import make_frame
    sent: Dict[int, float] = {}
    answers: Dict[int, Dict[str, Any]] = {}
    duplicates = 0
    async with websockets.connect(f'{url.replace("http", "ws")}/v1/models/{MODEL}/stream',
                                  max_size=1 << 22) as ws:
        begin = time.perf_counter()
        for i, frame in enumerate(frames):
            sent[i] = time.perf_counter()
            await ws.send(make_frame(i, frame))
        while len(answers) < len(frames):
            answer = json.loads(await asyncio.wait_for(ws.recv(), 120))
            now = time.perf_counter()
            if answer['id'] in answers:
                duplicates += 1
                continue
            answer['latency_s'] = now - sent[answer['id']]
            answers[answer['id']] = answer
        total = time.perf_counter() - begin
    workers: Dict[str, int] = {}
    for a in answers.values():
        workers[a.get('worker', '')] = workers.get(a.get('worker', ''), 0) + 1
    return {'total_s': total, 'bytes': sum(map(len, frames)), 'images': len(frames),
            'ok': sum(a['status'] == 200 for a in answers.values()),
            'latency_s': sorted(a['latency_s'] for a in answers.values()),
            'duplicate_answers': duplicates, 'workers': workers}


def run_client(args) -> int:
    import httpx

    def port() -> str:
        return open(args.port_file).read().strip() if os.path.exists(args.port_file) else ''
    C.wait_until(port, 180, 0.2)
    url = f'http://127.0.0.1:{port()}'
    C.wait_until(lambda: httpx.get(f'{url}/healthz', timeout=5).json()['models'][MODEL][
        'ready'], 120, 0.2)
    frames = render(args.images)
    asyncio.run(one_run(url, frames[:6]))  # warm-up: discovery, first fetches
    for _ in range(args.runs):
        print(json.dumps(asyncio.run(one_run(url, frames))), flush=True)
    return 0


# -- main ---------------------------------------------------------------------------------

def _plan(tmp: str, workers: int, model_ms: float, batch: int, prefetch: int):
    import yaml
    from edgeserve_ros.web.launch_plan import web_plan
    doc = {'models': [{'name': MODEL, 'kind': 'function',
                       'target': 'edgeserve_ros.models.zoo.fixed_delay',
                       'params': {'delay_ms': 0, 'per_item_ms': model_ms, 'label': 'seen'},
                       'inputs': ['image']}],
           'batching': {MODEL: {'max_batch': batch, 'max_delay': 0.0}},
           'workers': {MODEL: {'count': workers, 'lease_timeout': 2.0, 'prefetch': prefetch}},
           'gateway': {'ws_in_flight': 128, 'max_client_queue': 128, 'max_queue': 256,
                       'result_timeout': 120.0}}
    path = os.path.join(tmp, 'web.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(doc, f)
    return web_plan(doc, path, '', {'port': 0, 'port_file': os.path.join(tmp, 'port')})


def run_cell(args, kind: str, workers: int, fault: float) -> Dict[str, Any]:
    from edgeserve_ros.topology.netns import DEFAULT_ENV, NetnsLab
    tmp = tempfile.mkdtemp(prefix='edgeserve_seed001_')
    procs = NodeProcs(args.domain_id, log_dir=tmp, env=DEFAULT_ENV)
    with NetnsLab(['manager'] + WORKER_HOSTS[:workers], domain_id=args.domain_id) as lab:
        try:
            plan = _plan(tmp, workers, args.model_ms, args.batch, args.prefetch)
            index = 0
            for node in plan:
                host = 'manager'
                if node.executable == 'queue_worker':
                    host, index = WORKER_HOSTS[index], index + 1
                    if kind in FAULT_PARAM and (kind != 'failure' or host == 'w1'):
                        node.parameters.update({FAULT_PARAM[kind]: fault, 'fault_seed': index})
                procs.start(MODULES[node.executable], node.name,
                            prefix=['ip', 'netns', 'exec', lab.netns(host)], **node.parameters)
            child = lab.popen('manager', C.self_argv(__file__, 'client', [
                '--runs', args.runs, '--images', args.images, '--port-file',
                os.path.join(tmp, 'port')]), stdout=__import__('subprocess').PIPE, text=True)
            runs = []
            for line in child.stdout:
                runs.append(json.loads(line))
                r = runs[-1]
                C.progress(f'  {kind} {fault} with {workers} worker(s): run {len(runs)}: '
                           f'{r["images"] / r["total_s"]:.1f} images/s, ok {r["ok"]}')
            child.wait(timeout=60)
            queue_log = procs.log(f'{MODEL}_queue')
        finally:
            for name in list(procs.procs):
                procs.stop(name)
    stats = re.findall(r'resent (\d+) released (\d+) duplicates (\d+)', queue_log)
    resent, released, dups = (map(int, stats[-1]) if stats else (None, None, None))
    return {'kind': kind, 'workers': workers, 'fault': fault, 'runs': runs, 'resent': resent,
            'released': released, 'duplicates': dups, 'log_dir': tmp}


def ci95(values: Sequence[float]):
    """Return (mean, std, low, high): mean +- t(0.975, n-1) * s / sqrt(n)."""
    from scipy import stats
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, 0.0, mean, mean
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def report(args, cells: List[Dict[str, Any]], elapsed: float) -> None:
    headers = ['cell', 'workers', 'fault', 'runs', 'images/s mean', 'Mbit/s mean',
               'Mbit/s std', 'Mbit/s 95% CI', 'seed Mbit/s', 'cost vs 3 workers',
               'seed cost', 'latency p50 ms', 'p99 ms', 'answered', 'lost',
               'duplicate results', 're-sent at once', 're-sent at lease']
    rows, mean_bps = [], {}
    for c in cells:
        bps = [8 * r['bytes'] / r['total_s'] for r in c['runs']]
        mean_bps[(c['kind'], c['workers'], c['fault'])] = ci95(bps)[0] if bps else math.nan
    three, seed_three = mean_bps.get(('workers', 3, 0.0)), SEED_BPS[('workers', 3, 0.0)]

    def cost(key):
        value = mean_bps.get(key)
        return 1 - value / three if three and value is not None else math.nan
    for c in cells:
        key = (c['kind'], c['workers'], c['fault'])
        bps = [8 * r['bytes'] / r['total_s'] for r in c['runs']]
        ips = [r['images'] / r['total_s'] for r in c['runs']]
        lat = sorted(x for r in c['runs'] for x in r['latency_s'])
        mean, std, low, high = ci95(bps) if bps else (math.nan,) * 4
        sent = args.images * args.runs
        ok = sum(r['ok'] for r in c['runs'])
        dups = (c['duplicates'] or 0) + sum(r['duplicate_answers'] for r in c['runs'])
        fault = {'workers': '-', 'failure': f'p {c["fault"]} (w1)', 'delay':
                 f'{c["fault"] * 1e3:.0f} ms', 'loss': f'{c["fault"] * 100:.0f}%'}[c['kind']]
        rows.append([c['kind'], c['workers'], fault, len(c['runs']),
                     C.fmt(float(np.mean(ips)), 3) if ips else '-', C.fmt(mean / 1e6, 3),
                     C.fmt(std / 1e6, 2), f'{low / 1e6:.2f} - {high / 1e6:.2f}',
                     C.fmt(SEED_BPS[key] / 1e6, 3),
                     '-' if c['kind'] == 'workers' else f'{100 * cost(key):.1f}%',
                     '-' if c['kind'] == 'workers'
                     else f'{100 * (1 - SEED_BPS[key] / seed_three):.1f}%',
                     C.fmt(1e3 * lat[len(lat) // 2], 3) if lat else '-',
                     C.fmt(1e3 * lat[int(0.99 * (len(lat) - 1))], 3) if lat else '-',
                     f'{ok} of {sent}', sent - ok, dups, c['released'], c['resent']])
    one = mean_bps.get(('workers', 1, 0.0))
    lost, dups = sum(r[14] for r in rows), sum(r[15] for r in rows)
    targets = [
        ('3 workers >= 2.7x of 1 (seed 1.90x)', f'{C.ratio(three, one):.2f}x' if one else '-',
         bool(one and three and three / one >= 2.7)),
        ('failure p=0.5 on one of 3 costs <= 5% (seed 10.5%)',
         f'{100 * cost(("failure", 3, 0.5)):.1f}%', cost(('failure', 3, 0.5)) <= 0.05),
        ('delay 500 ms costs <= 20% (seed 62%)', f'{100 * cost(("delay", 3, 0.5)):.1f}%',
         cost(('delay', 3, 0.5)) <= 0.20),
        ('loss 15% costs <= 30% (seed 82%)', f'{100 * cost(("loss", 3, 0.15)):.1f}%',
         cost(('loss', 3, 0.15)) <= 0.30),
        ('0 images lost, 0 duplicate results in every cell', f'lost {lost}, duplicates {dups}',
         lost == 0 and dups == 0),
    ]
    C.write_csv(args.name, headers, rows)
    method = __doc__.split('\n\n', 1)[1].rsplit('\n\n', 2)[0]
    sections = [('Targets (issue 8)', C.targets_table(targets)),
                ('Results', C.md_table(headers, rows)),
                ('Method', method + f'\n\nImages {args.images} per run, model {args.model_ms} '
                 f'ms per image, {args.batch} images per micro-batch, prefetch {args.prefetch}, '
                 f'{args.runs} runs per cell. '
                 f'Run wall time {elapsed:.0f} s. Logs: {cells[0]["log_dir"]} and beside.')]
    C.write_md(args.name, 'Seed-001 replay: manager, shared queue and worker hosts', sections,
               C.machine_info({'command': f'bash scripts/dev bench {NAME}',
                               'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4 (NetnsLab children)'}))
    plt = C.pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.4))
    labels = [f'{r[0]}\n{r[1]}w {r[2]}' for r in rows]
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [mean_bps[(c['kind'], c['workers'], c['fault'])] / 1e6 for c in cells],
           0.4, label='edgeserve_ros')
    ax.bar(x + 0.2, [SEED_BPS[(c['kind'], c['workers'], c['fault'])] / 1e6 for c in cells],
           0.4, label='seed', color='tab:red')
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel('Mbit/s of images')
    ax.legend()
    fig.tight_layout()
    C.save_figure(fig, args.name)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.role == 'client':
        return run_client(args)
    C.exit_on_sigterm()
    begin = time.monotonic()
    cells = []
    kinds = args.kinds.split(',')
    for kind, workers, fault in [c for c in CELLS if c[0] in kinds]:
        C.progress(f'cell {kind} {fault}: {workers} worker(s)')
        cells.append(run_cell(args, kind, workers, fault))
    report(args, cells, time.monotonic() - begin)
    C.progress(f'wrote {C.result_path(args.name, "md")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

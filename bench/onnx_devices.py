"""The digits CNN through torch on each device and onnxruntime on each provider.

One command: ``bash scripts/dev bench onnx_devices [--quick] [--threads N]``.

The model is :class:`edgeserve_ros.models.digits.DigitsCNN` with its cached weights
(trained at first use, seeded, as ``config/web.yaml`` does), loaded through the model
layer exactly as a config would:

* ``torch``: ``kind: torch_image`` with ``device`` = ``cpu`` and, where CUDA is available,
  each ``cuda:N``;
* ``onnx``: the same weights written as ONNX by
  :func:`edgeserve_ros.models.onnx_write.export_layers` (dynamic batch axis), ``kind: onnx``
  with ``providers: [<provider>]`` for each provider of ``config.AUTO_PROVIDERS`` that
  this onnxruntime build has (CPU always).

Inputs are the 360 held-out 8 x 8 digits as gray uint8 images, in batches of 1 and 16.
Two timings per call: ``predict_batch`` (what model_node runs: preprocessing, the batch to
the device, the network, softmax, predictions back) and ``network`` (the preprocessed
float32 batch in, probabilities on the host out: ``classify(module, to_device(x))`` or
``session.run``). All paths are interleaved in every repetition, so they share the noise.
Both engines run with the same intra-op ``--threads``. Accuracy is over the whole held-out
split per path (it checks that the ONNX file computes what the torch module does).

Writes ``bench/results/onnx_devices.{md,csv,png}``; progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from _common import (fmt, machine_info, md_table, percentile, progress, pyplot, result_path,
                     save_figure, targets_table, write_csv, write_md)

NAME = 'onnx_devices'
BATCHES = (1, 16)
CLASS = 'edgeserve_ros.models.digits.DigitsCNN'
IMAGE = {'input': 'image', 'size': [8, 8], 'channels': 1}
ACCELERATORS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=(__doc__ or '').splitlines()[0])
    p.add_argument('--quick', action='store_true', help='~10 s version (fewer repetitions)')
    p.add_argument('--reps', type=int, default=None, help='timed calls per path and batch '
                   '(default 400, --quick 60)')
    p.add_argument('--threads', type=int, default=1,
                   help='intra-op threads of torch and onnxruntime (default 1)')
    p.add_argument('--name', default=NAME, help='base name of the result files')
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 60 if args.quick else 400
    return args


def accelerators() -> Dict[str, Any]:
    """Return what this machine offers: torch CUDA devices and onnxruntime providers."""
    import onnxruntime as ort
    import torch

    from edgeserve_ros.models.config import AUTO_PROVIDERS
    cuda = torch.cuda.is_available()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if cuda else []
    available = ort.get_available_providers()
    dist = 'onnxruntime'
    for name in ('onnxruntime-gpu', 'onnxruntime'):
        try:
            dist = f'{name} {importlib.metadata.version(name)}'
            break
        except importlib.metadata.PackageNotFoundError:
            continue
    return {'cuda': cuda, 'torch': torch.__version__, 'ort_dist': dist, 'gpus': gpus,
            'torch_cuda_build': torch.version.cuda, 'ort_available': list(available),
            'providers': [p for p in AUTO_PROVIDERS if p in available]}


def build_paths(args: argparse.Namespace, acc: Dict[str, Any],
                workdir: str) -> List[Tuple[str, str, Any]]:
    """Return ``(engine, device or provider, model)`` for every path this machine has."""
    import torch

    from edgeserve_ros.models.digits import DigitsCNN, ensure_digits_weights, DEFAULT_WEIGHTS
    from edgeserve_ros.models.loaders import load_model
    from edgeserve_ros.models.onnx_write import export_layers, leaf_layers

    weights = str(ensure_digits_weights(DEFAULT_WEIGHTS))
    net = DigitsCNN()
    net.load_state_dict(torch.load(weights, map_location='cpu', weights_only=True))
    onnx_path = os.path.join(workdir, 'digits.onnx')
    with open(onnx_path, 'wb') as f:
        f.write(export_layers(leaf_layers(net.eval()), ('batch', 1, 8, 8)))
    paths = []
    devices = ['cpu'] + [f'cuda:{i}' for i in range(len(acc['gpus']))]
    for device in devices:
        model = load_model(dict(IMAGE, kind='torch_image', weights=weights, device=device,
                                threads=args.threads, **{'class': CLASS}))
        paths.append(('torch', device, model))
    for provider in acc['providers']:
        model = load_model(dict(IMAGE, kind='onnx', path=onnx_path, providers=[provider],
                                threads=args.threads))
        used = model.providers[0]
        paths.append(('onnx', provider if used == provider else f'{provider} (ran on {used})',
                      model))
    return paths


def _network(engine: str, model: Any) -> Any:
    """Return ``f(x)``: preprocessed float32 ``(n, 1, 8, 8)`` -> probabilities on the host."""
    if engine == 'torch':
        import torch

        from edgeserve_ros.models.torch_model import classify, to_device

        def run_torch(x: np.ndarray) -> Any:
            return classify(model.module, to_device(torch.from_numpy(x), model.device), None)
        return run_torch

    def run_onnx(x: np.ndarray) -> Any:
        return model.session.run([model.output_name], {model.input_name: x})[0]
    return run_onnx


def measure(args: argparse.Namespace, paths: List[Tuple[str, str, Any]],
            images: np.ndarray) -> List[Dict[str, Any]]:
    """Time every path at every batch size, interleaved; return one row per path and batch."""
    from edgeserve_ros.models.image_model import preprocess
    rows = []
    for batch in BATCHES:
        inputs = [{'image': img} for img in images[:batch]]
        x = np.stack([preprocess(img, [8, 8], 1, 'false', False) for img in images[:batch]])
        calls = [(e, d, m.predict_batch, _network(e, m)) for e, d, m in paths]
        times: Dict[Tuple[str, str], Dict[str, List[float]]] = {
            (e, d): {'predict': [], 'network': []} for e, d, _, _ in calls}
        for rep in range(-20, args.reps):  # 20 untimed warm-up rounds
            for engine, device, predict, network in calls:
                t0 = time.perf_counter()
                predict(inputs)
                t1 = time.perf_counter()
                network(x)
                t2 = time.perf_counter()
                if rep >= 0:
                    times[(engine, device)]['predict'].append(t1 - t0)
                    times[(engine, device)]['network'].append(t2 - t1)
        for (engine, device), t in times.items():
            p50 = percentile(t['predict'], 50)
            rows.append({'engine': engine, 'device': device, 'batch': batch,
                         'reps': len(t['predict']), 'predict_p50_ms': 1e3 * p50,
                         'predict_p90_ms': 1e3 * percentile(t['predict'], 90),
                         'network_p50_ms': 1e3 * percentile(t['network'], 50),
                         'network_p90_ms': 1e3 * percentile(t['network'], 90),
                         'images_per_s': batch / p50 if p50 else float('nan')})
        progress(f'batch {batch}: ' + ', '.join(
            f"{r['engine']}/{r['device']} {r['predict_p50_ms']:.3f} ms"
            for r in rows if r['batch'] == batch))
    return rows


def accuracy(paths: List[Tuple[str, str, Any]], images: np.ndarray,
             labels: np.ndarray) -> Dict[Tuple[str, str], Tuple[float, List[Any]]]:
    """Return ``(accuracy, predicted labels)`` per path over the held-out split."""
    out = {}
    for engine, device, model in paths:
        got: List[Any] = []
        for start in range(0, len(images), 16):
            got += [p.label for p in model.predict_batch(
                [{'image': img} for img in images[start:start + 16]])]
        out[(engine, device)] = (float(np.mean(np.asarray(got) == labels)), got)
    return out


def _missing(acc: Dict[str, Any]) -> List[List[Any]]:
    rows = []
    if not acc['cuda']:
        why = (f"torch {acc['torch']} is a CPU-only build" if not acc['torch_cuda_build']
               else 'no CUDA device found')
        rows.append(['torch', 'cuda', '1, 16', f'not available here: {why}', '-', '-', '-',
                     '-', '-'])
    for provider in ACCELERATORS:
        if provider not in acc['providers']:
            rows.append(['onnx', provider, '1, 16', f"not available here: {acc['ort_dist']} "
                         'does not offer it', '-', '-', '-', '-', '-'])
    return rows


def report(args: argparse.Namespace, rows: List[Dict[str, Any]], acc: Dict[str, Any],
           accs: Dict[Tuple[str, str], Tuple[float, List[Any]]], elapsed: float) -> None:
    """Write md, CSV and plot."""
    import onnxruntime as ort
    import torch
    cols = ['engine', 'device', 'batch', 'reps', 'predict_p50_ms', 'predict_p90_ms',
            'network_p50_ms', 'network_p90_ms', 'images_per_s']
    write_csv(args.name, cols + ['accuracy'],
              [[r[c] for c in cols] + [accs[(r['engine'], r['device'])][0]] for r in rows])
    table = [[r['engine'], r['device'], r['batch'], 'measured', fmt(r['predict_p50_ms']),
              fmt(r['predict_p90_ms']), fmt(r['network_p50_ms']), f"{r['images_per_s']:.0f}",
              f"{100 * accs[(r['engine'], r['device'])][0]:.1f}%"] for r in rows]
    table += _missing(acc)
    has_accel = acc['cuda'] or any(p in acc['providers'] for p in ACCELERATORS)
    reference = accs[('torch', 'cpu')][1]
    agree = {k: float(np.mean(np.asarray(v[1]) == np.asarray(reference)))
             for k, v in accs.items()}
    targets = [
        ('every available device and provider measured',
         ', '.join(f'{e}/{d}' for e, d in accs), True),
        ('an accelerator measured', 'yes' if has_accel else
         'no: none on this machine (CPU only)', has_accel or None),
        ('onnx labels = torch cpu labels on the 360 held-out digits',
         ', '.join(f'{e}/{d} {100 * a:.1f}%' for (e, d), a in agree.items() if e == 'onnx'),
         all(a == 1.0 for a in agree.values())),
    ]
    accel_text = (
        f"CUDA (torch): {'yes, ' + ', '.join(acc['gpus']) if acc['cuda'] else 'no'}; "
        f"onnxruntime providers available: {', '.join(acc['ort_available'])}. "
        + ('' if has_accel else '**No accelerator is available on this machine**: only '
           'the CPU rows are measurements; the other rows say what is missing.'))
    sections = [
        ('Targets', targets_table(targets)),
        ('Accelerators', accel_text),
        ('Digits CNN per call (ms, p50 / p90) and images/s', md_table(
            ['engine', 'device / provider', 'batch', 'status', 'predict_batch p50',
             'predict_batch p90', 'network p50', 'images/s (predict_batch)', 'accuracy'],
            table)),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\n{args.reps} timed calls per path and batch after 20 warm-up rounds; '
           f'threads {args.threads}. Run took {elapsed:.0f} s.'),
    ]
    info = machine_info({'torch': torch.__version__,
                         'torch CUDA build': str(torch.version.cuda),
                         'GPUs': ', '.join(acc['gpus']) or 'none',
                         'onnxruntime': ort.__version__,
                         'onnxruntime providers': ', '.join(acc['ort_available']),
                         'threads': str(args.threads)})
    write_md(args.name, 'Digits CNN: torch devices and onnxruntime providers', sections, info)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(BATCHES), figsize=(4 + 2.5 * len(BATCHES), 4.2))
    for ax, batch in zip(np.atleast_1d(axes), BATCHES):
        sub = [r for r in rows if r['batch'] == batch]
        labels = [f"{r['engine']}\n{r['device'].replace('ExecutionProvider', '')}" for r in sub]
        pos = np.arange(len(sub))
        ax.bar(pos - 0.2, [r['predict_p50_ms'] for r in sub], 0.4, label='predict_batch')
        ax.bar(pos + 0.2, [r['network_p50_ms'] for r in sub], 0.4, label='network')
        ax.set_xticks(pos)
        ax.set_xticklabels(labels)
        ax.set_ylabel('p50 ms per call')
        ax.set_title(f'batch {batch}' + ('' if has_accel else ' (no accelerator here)'))
        ax.grid(True, axis='y', alpha=0.3)
        ax.legend()
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark."""
    args = parse_args(argv)
    start = time.monotonic()
    from edgeserve_ros.models.digits import digits_data
    acc = accelerators()
    progress(f"{NAME}: CUDA {'yes' if acc['cuda'] else 'no'}, onnxruntime providers "
             f"{', '.join(acc['ort_available'])}; batches {BATCHES}, {args.reps} reps")
    data = digits_data()
    images = np.round(data['x_test'][:, 0] * 255).astype(np.uint8)
    with tempfile.TemporaryDirectory() as workdir:
        paths = build_paths(args, acc, workdir)
        progress('paths: ' + ', '.join(f'{e}/{d}' for e, d, _ in paths))
        accs = accuracy(paths, images, data['y_test'])
        progress('accuracy: ' + ', '.join(f'{e}/{d} {100 * a:.1f}%'
                                          for (e, d), (a, _) in accs.items()))
        rows = measure(args, paths, images)
    report(args, rows, acc, accs, time.monotonic() - start)
    progress(f'wrote {result_path(args.name, "md")}, .csv, .png')
    return 0


if __name__ == '__main__':
    sys.exit(main())

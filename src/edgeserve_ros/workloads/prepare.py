"""
Train and save the models a topology needs, and write the models YAML its nodes load.

Models are named ``<workload>_all`` (centralized/parallel: every source's stream as input,
in part order) and ``<workload>_part<k>`` (decentralized: the source of part k alone). Files
are cached under ``out_dir`` and rebuilt only when the topology's streams or seed change.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any, Dict, List

import joblib
import yaml

from edgeserve_ros.topology.plan import source_topic
from edgeserve_ros.topology.spec import TopologySpec


def models_file(spec: TopologySpec, out_dir: pathlib.Path) -> pathlib.Path:
    """Return the models YAML of ``spec``, training and saving the models if needed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = {s.part: source_topic(spec, s.name) for s in spec.sources}
    key = hashlib.sha256(json.dumps([spec.workload, spec.seed, sorted(inputs.items())])
                         .encode()).hexdigest()[:12]
    path = out_dir / f'{spec.name}_{key}_models.yaml'
    if path.exists():
        return path
    model_dir = out_dir / f'{spec.name}_{key}'
    model_dir.mkdir(exist_ok=True)
    entries = _BUILDERS[spec.workload](spec, model_dir, inputs)
    path.write_text(yaml.safe_dump({'models': entries}, sort_keys=False))
    return path


def _har(spec: TopologySpec, out_dir: pathlib.Path, inputs: Dict[int, str]) -> List[Any]:
    from edgeserve_ros.workloads.har_train import train_har_models
    all_rf, group_rfs, _ = train_har_models(spec.seed)
    entries = []
    if sorted(inputs) == [0, 1, 2, 3]:
        entries.append(_sklearn('har_all', all_rf, out_dir, [inputs[k] for k in range(4)]))
    for part, topic in inputs.items():
        if part >= 0:
            entries.append(_sklearn(f'har_part{part}', group_rfs[part], out_dir, [topic]))
    return entries


def _nids(spec: TopologySpec, out_dir: pathlib.Path, inputs: Dict[int, str]) -> List[Any]:
    from edgeserve_ros.workloads.nids import generate_flows, train_nids_classifier
    forest = train_nids_classifier(generate_flows(20000, seed=spec.seed + 1000), spec.seed)
    entries = [_sklearn('nids_all', forest, out_dir, ['flow'])]  # one input: any stream
    for part, topic in inputs.items():
        entries.append({**entries[0], 'name': f'nids_part{part}', 'inputs': [topic]})
    return entries


def _qr(spec: TopologySpec, out_dir: pathlib.Path, inputs: Dict[int, str]) -> List[Any]:
    entries: List[Any] = [{'name': 'qr_all', 'kind': 'function',
                           'target': 'edgeserve_ros.models.qr_pair.track_pair',
                           'params': {'scale': 0.5}, 'inputs': list(inputs.values())}]
    for part, topic in inputs.items():
        entries.append({'name': f'qr_part{part}', 'kind': 'opencv_qr', 'input': topic,
                        'backends': ['pyzbar'], 'scale': 0.5})
    return entries


def _sklearn(name: str, estimator: Any, out_dir: pathlib.Path, inputs: List[str]) -> Any:
    path = out_dir / f'{name}.joblib'
    joblib.dump(estimator, path)
    return {'name': name, 'kind': 'sklearn', 'path': str(path), 'format': 'joblib',
            'inputs': inputs, 'fill': 'last'}


_BUILDERS = {'har': _har, 'nids': _nids, 'qr': _qr}

"""
The nodes ``launch/web_launch.py`` starts, from ``config/web.yaml`` (rclpy- and launch-free).

One ``model_node`` per served model (``input_kind: stream`` on
``/<prefix>/<model>/images``, predictions on ``/<prefix>/<model>/predictions``, batching
from ``batching:``) and one ``web_gateway_node`` with the ``gateway:`` parameters.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional

from edgeserve_ros.models.config import validate_models_config


class NodePlan(NamedTuple):
    """One node to start: executable, node name, parameters."""

    executable: str
    name: str
    parameters: Dict[str, Any]


def web_plan(doc: Mapping[str, Any], config_path: str, models: str = '',
             gateway: Optional[Mapping[str, Any]] = None) -> List[NodePlan]:
    """
    Return the nodes of a web deployment.

    :param doc: the parsed config (``models``, ``batching``, ``gateway``)
    :param config_path: the config file (the model nodes' ``model_file``)
    :param models: comma-separated subset of the config's models ('' = all)
    :param gateway: gateway parameters overriding the config's
    :raises ValueError: an unknown model or a bad models list (naming it)
    """
    known = [e['name'] for e in validate_models_config(doc)]
    chosen = [m.strip() for m in models.split(',') if m.strip()] or known
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise ValueError(f'models={models!r}: {", ".join(unknown)} not in {config_path} '
                         f'(has {", ".join(known)})')
    params = dict(doc.get('gateway') or {})
    params.update(gateway or {})
    prefix = str(params.get('topic_prefix', 'web')).strip('/')
    params['models'] = chosen
    batching = doc.get('batching') or {}
    plan = []
    for model in chosen:
        batch = dict(batching.get(model) or {})
        plan.append(NodePlan('model_node', f'{model}_model', {
            'model_file': config_path, 'model': model, 'input_kind': 'stream',
            'input': f'/{prefix}/{model}/images',
            'output_stream': f'/{prefix}/{model}/predictions',
            'max_batch': int(batch.get('max_batch', 1)),
            'max_delay': float(batch.get('max_delay', 0.0))}))
    plan.append(NodePlan('web_gateway_node', 'web_gateway', params))
    return plan

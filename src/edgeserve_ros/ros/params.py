"""
Declaring validated node parameters from one table of specs.

Every parameter gets a ``ParameterDescriptor`` (description, range, read-only); an on-set
callback rejects values out of range or outside their choices with a reason naming the
parameter; overrides for parameters the node does not declare (a mistyped YAML key) are an
error naming the key and the known ones.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
import os
from typing import Any, Dict, List, Optional, Sequence

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.node import Node
from rclpy.exceptions import NameValidationException
from rclpy.parameter import Parameter
from rclpy.validate_node_name import validate_node_name
from rclpy.validate_topic_name import validate_topic_name

from edgeserve_ros.dataplane.status import MAX_NAME_LENGTH

#: What a string parameter names, checked at start-up (see :meth:`ParamSpec.check`):
#: ``topic``/``topics`` a topic name or a list of them ('' or [''] allowed when the default
#: is empty or ``optional`` is set: "none"), ``node`` a node name, ``file`` an existing
#: readable file, ``new_file`` a file to create in an existing, writable directory,
#: ``message_type`` an importable ``pkg/msg/Type``.
KINDS = ('', 'topic', 'topics', 'node', 'file', 'new_file', 'message_type')


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: default, description and constraints."""

    name: str
    default: Any
    description: str
    low: Optional[float] = None
    high: Optional[float] = None
    choices: Sequence[str] = ()
    read_only: bool = True
    kind: str = ''
    optional: bool = False

    def check(self, value: Any) -> Optional[str]:
        """Explain why ``value`` is invalid; None when it is valid."""
        if self.kind:
            return self._check_kind(value)
        if isinstance(self.default, float) and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            return f'{self.name}={value!r}: expected a number'
        if self.choices and value not in self.choices:
            return f'{self.name}={value!r}: expected one of {", ".join(self.choices)}'
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.low is not None and value < self.low:
                return f'{self.name}={value}: must be >= {self.low}'
            if self.high is not None and value > self.high:
                return f'{self.name}={value}: must be <= {self.high}'
        return None

    def _check_kind(self, value: Any) -> Optional[str]:
        names = list(value) if self.kind == 'topics' else [value]
        empty_ok = self.optional or self.default in ('', [''])
        if self.kind == 'topics' and names != [''] and '' in names:
            return f'{self.name}={value!r}: empty topic name in the list'
        for name in names:
            if not isinstance(name, str):
                return f'{self.name}={value!r}: expected a string'
            if name == '' and empty_ok:
                continue
            problem = _name_problem(self.kind, name)
            if problem:
                return f'{self.name}={_clip(name)}: {problem}'
        return None

    def descriptor(self) -> ParameterDescriptor:
        """Return the ROS descriptor; ``ros2 param describe`` shows its ranges."""
        text = self.description
        if self.choices:
            text += f' One of: {", ".join(self.choices)}.'
        # Floats accept integers too (rate_hz:=10), converted on declaration.
        desc = ParameterDescriptor(description=text, read_only=self.read_only,
                                   dynamic_typing=isinstance(self.default, float))
        if self.low is not None and self.high is not None and not isinstance(self.default, bool):
            if isinstance(self.default, int):
                desc.integer_range = [IntegerRange(from_value=int(self.low),
                                                   to_value=int(self.high), step=0)]
            elif isinstance(self.default, float):
                desc.floating_point_range = [FloatingPointRange(
                    from_value=float(self.low), to_value=float(self.high), step=0.0)]
        return desc


def _clip(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + '...')


def _name_problem(kind: str, name: str) -> Optional[str]:
    """Why ``name`` is not a valid ``kind`` (see :data:`KINDS`); None when it is."""
    if kind in ('topic', 'topics', 'node') and len(name) > MAX_NAME_LENGTH:
        return f'{len(name)} characters, at most {MAX_NAME_LENGTH}'
    try:
        if kind in ('topic', 'topics'):
            validate_topic_name(name)
        elif kind == 'node':
            validate_node_name(name)
    except NameValidationException as exc:
        return str(exc).split(':')[1].strip()
    if kind == 'message_type':
        try:
            import_message_type(name)
        except ParameterError as exc:
            return str(exc).split(': ', 1)[-1]
    if kind == 'file' and not (os.path.isfile(name) and os.access(name, os.R_OK)):
        return 'no such readable file'
    if kind == 'new_file':
        folder = os.path.dirname(os.path.abspath(name))
        if not os.path.isdir(folder):
            return f'directory {folder} does not exist'
        if not os.access(folder, os.W_OK):
            return f'directory {folder} is not writable'
    return None


class ParameterError(ValueError):
    """Invalid or unknown parameters given to a node."""


def declare_parameters(node: Node, specs: Sequence[ParamSpec]) -> Dict[str, Any]:
    """
    Declare, validate and return all parameters of ``node``.

    :raises ParameterError: a value is invalid or an override names no declared parameter
    """
    table = {spec.name: spec for spec in specs}
    overrides = getattr(node, '_parameter_overrides', {})
    unknown = sorted(name for name in overrides
                     if name not in table and name != 'use_sim_time')
    if unknown:
        raise ParameterError(f'{node.get_name()}: unknown parameter(s) {", ".join(unknown)}; '
                             f'known: {", ".join(sorted(table))}')
    values = {}
    for spec in specs:
        try:
            values[spec.name] = node.declare_parameter(
                spec.name, spec.default, spec.descriptor()).value
        except Exception as exc:  # noqa: BLE001 - rclpy raises several types here
            raise ParameterError(f'{node.get_name()}: parameter {spec.name}: {exc}') from None
        problem = spec.check(values[spec.name])
        if problem:
            raise ParameterError(f'{node.get_name()}: {problem}')
        if isinstance(spec.default, float):
            values[spec.name] = float(values[spec.name])

    def on_set(params: List[Parameter]) -> SetParametersResult:
        for param in params:
            spec = table.get(param.name)
            problem = spec.check(param.value) if spec else None
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    return values


def import_message_type(name: str) -> Any:
    """Return the message class named ``pkg/msg/Type`` (from local configuration only)."""
    parts = name.split('/')
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or parts[1] != 'msg' or not all(p.isidentifier() for p in parts):
        raise ParameterError(f'message type {name!r}: expected pkg/msg/Type')
    try:
        return getattr(importlib.import_module(f'{parts[0]}.msg'), parts[2])
    except (ImportError, AttributeError) as exc:
        raise ParameterError(f'message type {name!r} not found: {exc}') from None

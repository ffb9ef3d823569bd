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
from typing import Any, Dict, List, Optional, Sequence

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter


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

    def check(self, value: Any) -> Optional[str]:
        """Explain why ``value`` is invalid; None when it is valid."""
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

"""
A minimal ONNX writer: small feed-forward torch nets to ``.onnx`` bytes, no ``onnx`` package.

``torch.onnx.export`` needs the ``onnx`` (and, since torch 2.9, ``onnxscript``) packages,
which this project does not install. This module encodes the few protobuf messages of
``onnx.proto`` (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto) directly,
for nets made of ``Linear``, ``Conv2d``, ``ReLU``, ``MaxPool2d``, ``Flatten`` and
``Softmax`` applied one after the other -- enough for the tests and ``bench/onnx_devices.py``
(the digits CNN, ``zoo.MLPClassifier``). It is not a general exporter.
"""

import struct
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

#: TensorProto.DataType codes
FLOAT, INT64, FLOAT16, DOUBLE = 1, 7, 10, 11
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64,
           np.dtype(np.float16): FLOAT16, np.dtype(np.float64): DOUBLE}
IR_VERSION = 8
OPSET = 17

Dim = Union[int, str, None]


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(int(value))


def _bytes(field: int, value: Union[bytes, str]) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack('<f', value)


def tensor(name: str, array: Any) -> bytes:
    """Return a TensorProto holding ``array`` (float32/float16/float64/int64) as raw data."""
    arr = np.ascontiguousarray(array)
    if arr.dtype not in _DTYPES:
        raise ValueError(f'{name}: unsupported dtype {arr.dtype}')
    dims = b''.join(_int(1, d) for d in arr.shape)
    return dims + _int(2, _DTYPES[arr.dtype]) + _bytes(8, name) + \
        _bytes(9, arr.astype(arr.dtype.newbyteorder('<')).tobytes())


def _attribute(name: str, value: Any) -> bytes:
    out = _bytes(1, name)
    if isinstance(value, float):
        return out + _float(2, value) + _int(20, 1)
    if isinstance(value, int):
        return out + _int(3, value) + _int(20, 2)
    if isinstance(value, str):
        return out + _bytes(4, value) + _int(20, 3)
    ints = [int(v) for v in value]
    return out + b''.join(_int(8, v) for v in ints) + _int(20, 7)


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> bytes:
    """Return a NodeProto; attributes may be int, float, str or a sequence of ints."""
    return (b''.join(_bytes(1, i) for i in inputs) + b''.join(_bytes(2, o) for o in outputs)
            + _bytes(3, f'{op_type}_{outputs[0]}') + _bytes(4, op_type)
            + b''.join(_bytes(5, _attribute(k, v)) for k, v in attrs.items()))


def value_info(name: str, shape: Sequence[Dim], elem_type: int = FLOAT) -> bytes:
    """Return a ValueInfoProto; a str dim is symbolic (e.g. ``'batch'``), None unknown."""
    dims = b''
    for d in shape:
        if isinstance(d, str):
            dims += _bytes(1, _bytes(2, d))
        elif d is None:
            dims += _bytes(1, b'')
        else:
            dims += _bytes(1, _int(1, d))
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(nodes: Iterable[bytes], inputs: Iterable[bytes], outputs: Iterable[bytes],
          initializers: Iterable[bytes] = (), opset: int = OPSET,
          name: str = 'edgeserve_ros') -> bytes:
    """Return a serialized ModelProto (one graph, default domain at ``opset``)."""
    graph = (b''.join(_bytes(1, n) for n in nodes) + _bytes(2, name)
             + b''.join(_bytes(5, t) for t in initializers)
             + b''.join(_bytes(11, i) for i in inputs)
             + b''.join(_bytes(12, o) for o in outputs))
    return (_int(1, IR_VERSION) + _bytes(2, 'edgeserve_ros.onnx_write') + _bytes(7, graph)
            + _bytes(8, _bytes(1, '') + _int(2, opset)))


def leaf_layers(module: Any) -> List[Any]:
    """Return the leaf submodules of ``module`` in registration order (= order applied)."""
    return [m for m in module.modules() if not list(m.children())]


def _pair(value: Any) -> Tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _layer(layer: Any, x: str, y: str, i: int) -> Tuple[List[bytes], List[bytes]]:
    from torch import nn
    params = {k: v.detach().cpu().numpy().astype(np.float32)
              for k, v in layer.named_parameters()}
    inits = [tensor(f'p{i}_{k}', v) for k, v in params.items()]
    names = [f'p{i}_{k}' for k in params]
    if isinstance(layer, nn.Linear):
        return [node('Gemm', [x, *names], [y], transB=1)], inits
    if isinstance(layer, nn.Conv2d):
        if not isinstance(layer.padding, tuple) or layer.padding_mode != 'zeros':
            raise ValueError(f'layer {i}: only explicit zero padding is supported')
        ph, pw = _pair(layer.padding)
        return [node('Conv', [x, *names], [y], kernel_shape=_pair(layer.kernel_size),
                     strides=_pair(layer.stride), pads=[ph, pw, ph, pw],
                     dilations=_pair(layer.dilation), group=layer.groups)], inits
    if isinstance(layer, nn.ReLU):
        return [node('Relu', [x], [y])], []
    if isinstance(layer, nn.MaxPool2d):
        if layer.ceil_mode or _pair(layer.dilation) != (1, 1):
            raise ValueError(f'layer {i}: MaxPool2d with ceil_mode/dilation is not supported')
        ph, pw = _pair(layer.padding)
        stride = layer.stride if layer.stride is not None else layer.kernel_size
        return [node('MaxPool', [x], [y], kernel_shape=_pair(layer.kernel_size),
                     strides=_pair(stride), pads=[ph, pw, ph, pw])], []
    if isinstance(layer, nn.Flatten):
        if layer.start_dim != 1 or layer.end_dim != -1:
            raise ValueError(f'layer {i}: only Flatten(1, -1) is supported')
        return [node('Flatten', [x], [y], axis=1)], []
    if isinstance(layer, nn.Softmax):
        if layer.dim is None:
            raise ValueError(f'layer {i}: Softmax needs an explicit dim')
        return [node('Softmax', [x], [y], axis=int(layer.dim))], []
    raise ValueError(f'layer {i}: {type(layer).__name__} is not supported')


def export_layers(layers: Sequence[Any], input_shape: Sequence[Dim],
                  input_name: str = 'input', output_name: str = 'output',
                  output_shape: Optional[Sequence[Dim]] = None) -> bytes:
    """
    Serialize torch layers applied in sequence as an ONNX model (float32 in and out).

    :param layers: e.g. :func:`leaf_layers` of a feed-forward net.
    :param input_shape: e.g. ``('batch', 1, 8, 8)`` (a str dim is a dynamic axis).
    :param output_shape: declared output shape (default ``(batch, None)``).
    :raises ValueError: for a layer kind or option this writer does not handle.
    """
    nodes: List[bytes] = []
    inits: List[bytes] = []
    x = input_name
    for i, layer in enumerate(layers):
        y = output_name if i == len(layers) - 1 else f'h{i}'
        more_nodes, more_inits = _layer(layer, x, y, i)
        nodes += more_nodes
        inits += more_inits
        x = y
    out_shape = output_shape if output_shape is not None else (input_shape[0], None)
    return model(nodes, [value_info(input_name, input_shape)],
                 [value_info(output_name, out_shape)], inits)


__all__: List[str] = ['export_layers', 'leaf_layers', 'model', 'node', 'tensor',
                      'value_info']

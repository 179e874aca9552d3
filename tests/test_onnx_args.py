"""Unit tests of the shared ONNX argument decoders (backends/codegen/onnx_args.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mmconvert.backends.codegen.core import Val
from mmconvert.backends.codegen.onnx_args import pad_args, static_expand
from mmconvert.ir.errors import GraphValidationError


class _Node:
    def __init__(self, op_type, inputs, attrs):
        self.op_type, self.inputs, self.attrs, self.name = op_type, inputs, attrs, "n"


class _Ctx:
    """The reading half of NodeCtx over given constants and shapes."""

    from mmconvert.backends.codegen.core import NodeCtx as _N

    attr, choice, has, const, scalar, int_list = (_N.attr, _N.choice, _N.has, _N.const, _N.scalar, _N.int_list)

    def __init__(self, op_type, inputs, attrs=None, shape0=None):
        names = [f"i{k}" if v is not None else "" for k, v in enumerate(inputs)]
        self.node = _Node(op_type, names, attrs or {})
        self._vals = {n: Val("", "tensor", None if isinstance(v, str) else np.asarray(v))
                      for n, v in zip(names, inputs) if n}
        self._shape0 = shape0

    def val(self, i):
        return self._vals[self.node.inputs[i]]

    def shape(self, i):
        return self._shape0 if i == 0 else None

    def rank(self, i):
        return None if self._shape0 is None else len(self._shape0)


def test_pad_static_pairs_per_dim():
    a = pad_args(_Ctx("Pad", ["x", np.array([1, 2, 3, 4], np.int64)], shape0=(2, 5)))
    assert a.mode == "constant" and a.value is None
    assert a.pairs == [[1, 3], [2, 4]] and a.axes == [0, 1] and a.static


def test_pad_axes_are_normalized_and_others_zero():
    c = _Ctx("Pad", ["x", np.array([1, 2], np.int64), np.array(1.5, np.float32), np.array([-1], np.int64)],
             {"mode": b"reflect"}, shape0=(2, 3, 4))
    a = pad_args(c)
    assert a.mode == "reflect" and a.value == 1.5
    assert a.axes == [2] and a.pairs == [[0, 0], [0, 0], [1, 2]] and a.pads == [1, 2]


def test_pad_runtime_pads_or_axes_fall_back():
    assert not pad_args(_Ctx("Pad", ["x", "pads"], shape0=(2, 3))).static
    assert pad_args(_Ctx("Pad", ["x", np.array([1, 1], np.int64)], shape0=None)).pairs is None
    a = pad_args(_Ctx("Pad", ["x", np.array([1, 1], np.int64), None, "axes"], shape0=(2, 3)))
    assert a.pairs is None and a.axes is None


def test_pad_rejects_unknown_mode():
    with pytest.raises(GraphValidationError):
        pad_args(_Ctx("Pad", ["x", np.array([0, 0], np.int64)], {"mode": "mirror"}, shape0=(2,)))


def test_static_expand():
    assert static_expand(_Ctx("Expand", ["x", np.array([3, 1], np.int64)], shape0=(1, 4))) == ([1, 4], [3, 4])
    assert static_expand(_Ctx("Expand", ["x", np.array([2], np.int64)], shape0=(3,))) is None  # no broadcast
    assert static_expand(_Ctx("Expand", ["x", np.array([2, 3], np.int64)], shape0=("batch", 3))) is None
    assert static_expand(_Ctx("Expand", ["x", "shape"], shape0=(2, 3))) is None

"""What the transpose movers know about ops: one table, and the axis arithmetic it implies.

Both movers (:func:`~mmconvert.ir.passes.transpose.sink_transposes` on ONNX graphs and
:func:`~mmconvert.ir.passes.layout.push_transposes` in the TensorFlow backend's layout
pipeline) ask this module, and only this module, how an op treats the layout of its input:

- ``unary``: element-wise on input 0 (the other inputs are scalars or carry no data);
- ``broadcast``: element-wise over every input, with NumPy broadcasting;
- ``reduce``: reduces the axes given by input 1 (or, before opset 18, its ``axes`` attribute);
- ``axis``: works along the axis named by its ``axis`` attribute (:data:`AXIS_DEFAULT`);
- ``squeeze``, ``cumulative``, ``pad``, ``slice``, ``resize``: take their axes (or one
  value per axis) from a constant input;
- ``quantize``: element-wise with a per-tensor (one-element) scale and zero point;
- ``channels_last``: channel-first ops with a channels-last form that TensorFlow runs
  (:data:`ALWAYS` always run that way, :data:`WHEN_FED` when their input already is).

A permutation ``perm`` here always means ``logical = transpose(physical, perm)``: logical axis
``a`` is physical axis ``perm[a]``.
"""

from __future__ import annotations

from typing import Iterable

_UNARY_OPS = (
    "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "BitwiseNot", "Cast", "CastLike", "Ceil", "Celu",
    "Clip", "Cos", "Cosh", "Dropout", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "Identity",
    "IsInf", "IsNaN", "LeakyRelu", "Log", "Mish", "Neg", "Not", "Reciprocal", "Relu", "Round", "Selu", "Shrink",
    "Sigmoid", "Sign", "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Swish", "Tan", "Tanh", "ThresholdedRelu",
)
_BROADCAST_OPS = (
    "Add", "And", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Div", "Equal", "Greater", "GreaterOrEqual",
    "Less", "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul", "Or", "Pow", "PRelu", "Sub", "Sum", "Where", "Xor",
)
_REDUCE_OPS = ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
               "ReduceProd", "ReduceSum", "ReduceSumSquare")

# op -> the default of its ``axis`` attribute (None: the attribute is required)
AXIS_DEFAULT: dict[str, int | None] = {"Concat": None, "Split": 0, "Softmax": -1, "LogSoftmax": -1, "Hardmax": -1,
                                       "ArgMax": 0, "ArgMin": 0}

# channel-first ops that always run channels-last (TensorFlow's CPU kernels need it)
ALWAYS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
          "GlobalLpPool")
# channel-first ops that become channels-last when their input already is
WHEN_FED = ("BatchNormalization", "InstanceNormalization", "LRN", "DepthToSpace", "SpaceToDepth")

# THE table: default-domain op -> how it treats the layout of its input
TRAITS: dict[str, str] = {
    **{op: "unary" for op in _UNARY_OPS},
    **{op: "broadcast" for op in _BROADCAST_OPS},
    **{op: "reduce" for op in _REDUCE_OPS},
    **{op: "axis" for op in AXIS_DEFAULT},
    "Squeeze": "squeeze", "CumSum": "cumulative", "CumProd": "cumulative", "Pad": "pad", "Slice": "slice",
    "Resize": "resize", "QuantizeLinear": "quantize", "DequantizeLinear": "quantize",
    **{op: "channels_last" for op in ALWAYS + WHEN_FED},
}


def ops(kind: str) -> frozenset[str]:
    """The ops of one kind of :data:`TRAITS`."""
    return frozenset(op for op, k in TRAITS.items() if k == kind)


def kind(op_type: str) -> str | None:
    """How a default-domain op treats the layout of its input (None: it cares, unknown)."""
    return TRAITS.get(op_type)


UNARY = ops("unary")
BROADCAST = ops("broadcast")
ELEMENTWISE = UNARY | BROADCAST
REDUCE = ops("reduce")


# ------------------------------------------------------------------ permutations
def to_last(rank: int) -> list[int]:
    """NC... -> N...C"""
    return [0, *range(2, rank), 1]


def to_first(rank: int) -> list[int]:
    """N...C -> NC..."""
    return [0, rank - 1, *range(1, rank - 1)]


def inverse(perm) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def compose(first, then) -> list[int]:
    """The one permutation of ``transpose(transpose(a, first), then)``."""
    return [int(first[i]) for i in then]


def is_identity(perm) -> bool:
    return list(perm) == list(range(len(perm)))


# ------------------------------------------------------------------ axes of an op reading the physical tensor
def moved_axis(perm, axis: int) -> int:
    """The physical axis of logical ``axis`` (negative counts from the end)."""
    return int(perm[int(axis) % len(perm)])


def moved_axes(perm, axes: Iterable[int]) -> list[int]:
    """The physical axes of logical ``axes``, sorted."""
    return sorted(moved_axis(perm, a) for a in axes)


def squeezed_perm(perm, removed: Iterable[int]) -> list[int]:
    """The permutation left after removing logical axes ``removed`` (and the physical axes
    they were) from ``logical = transpose(phys, perm)``: the output layout of a Squeeze, or of
    a reduction with ``keepdims=0``."""
    removed = {int(a) % len(perm) for a in removed}
    kept_logical = [i for i in range(len(perm)) if i not in removed]
    kept_phys = sorted(perm[i] for i in kept_logical)
    return [kept_phys.index(perm[i]) for i in kept_logical]


def reduced(perm, axes: Iterable[int], keepdims: bool) -> tuple[list[int], list[int]]:
    """(physical axes, output permutation) of a reduction over logical ``axes``."""
    axes = list(axes)
    return moved_axes(perm, axes), (list(perm) if keepdims else squeezed_perm(perm, axes))


def moved_pads(perm, pads, axes: Iterable[int] | None = None) -> list[int]:
    """Pad's ``pads`` (begins then ends, one per entry of ``axes``; all axes when None) for
    the physical tensor, over every axis."""
    r = len(perm)
    axes = list(range(r)) if axes is None else [int(a) % r for a in axes]
    k = len(axes)
    begin, end = [0] * r, [0] * r
    for i, a in enumerate(axes):
        begin[perm[a]], end[perm[a]] = int(pads[i]), int(pads[k + i])
    return begin + end


__all__ = ["ALWAYS", "AXIS_DEFAULT", "BROADCAST", "ELEMENTWISE", "REDUCE", "TRAITS", "UNARY", "WHEN_FED", "compose",
           "inverse", "is_identity", "kind", "moved_axes", "moved_axis", "moved_pads", "ops", "reduced",
           "squeezed_perm", "to_first", "to_last"]

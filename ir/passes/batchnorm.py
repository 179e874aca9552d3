"""BatchNorm folding: an inference BatchNormalization (or a per-channel Mul/Add) after a Conv,
ConvTranspose or Gemm with constant weights goes into those weights.

``BN(y) = (y - mean) * scale / sqrt(var + eps) + B`` is ``y * s + t`` per output channel, so
``BN(conv(x, W, b)) = conv(x, W * s, b * s + t)``.  The arithmetic is done in float64 and
stored in the weight's dtype.  A weight read by another node too is copied, not changed.
A source's own parameters (a PyTorch or Keras source's state) are never folded: the emitted
module keeps them, so it loads the source's weights by name.
"""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..node import Node
from . import register
from .match import const, fresh, op, private, rank, replace, source_state, used_outputs

_LINEAR = ("Conv", "ConvTranspose", "Gemm")


MAX_WEIGHT = 1 << 26  # elements: folding computes in float64, so a larger weight stays as it is


def _weights(graph: Graph, node: Node):
    """(W, b or None) of a Conv/ConvTranspose/Gemm with constant float weights, else None."""
    if source_state(graph, *node.inputs[1:3]):
        return None
    w = const(graph, node.inputs[1])
    if w is None or w.dtype.kind != "f" or w.size > MAX_WEIGHT:
        return None
    b = None
    if len(node.inputs) > 2 and node.inputs[2]:
        b = const(graph, node.inputs[2])
        if b is None or b.dtype != w.dtype:
            return None
    return w, b


def _channels(node: Node, w: np.ndarray) -> int | None:
    if node.op_type == "Conv":
        return w.shape[0]
    if node.op_type == "ConvTranspose":
        return w.shape[1] * int(node.attrs.get("group", 1))
    trans_b = int(node.attrs.get("transB", 0))
    return w.shape[0] if trans_b else w.shape[1] if w.ndim == 2 else None


def _scaled(node: Node, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``W`` with output channel ``k`` multiplied by ``s[k]``."""
    w64 = w.astype(np.float64)
    if node.op_type == "Conv":
        out = w64 * s.reshape((-1,) + (1,) * (w.ndim - 1))
    elif node.op_type == "ConvTranspose":
        g = int(node.attrs.get("group", 1))
        grouped = w64.reshape((g, w.shape[0] // g, w.shape[1]) + w.shape[2:])
        out = (grouped * s.reshape((g, 1, w.shape[1]) + (1,) * (w.ndim - 2))).reshape(w.shape)
    elif int(node.attrs.get("transB", 0)):
        out = w64 * s.reshape(-1, 1)
    else:
        out = w64 * s.reshape(1, -1)
    return out.astype(w.dtype)


def _bias_of(graph: Graph, node: Node, b: np.ndarray | None, channels: int) -> np.ndarray | None:
    """The bias as a (channels,) float64 vector (Gemm: ``beta * C``), None when it is not one."""
    if b is None:
        return np.zeros(channels)
    b64 = b.astype(np.float64)
    if node.op_type == "Gemm":
        b64 = b64 * float(node.attrs.get("beta", 1.0))
        if b64.size == 1:
            return np.full(channels, float(b64.reshape(-1)[0]))
        if b64.ndim == 2 and b64.shape[0] == 1:
            b64 = b64[0]
    if b64.shape != (channels,):
        return None
    return b64


def _rewrite(graph: Graph, lin: Node, w: np.ndarray, s: np.ndarray, t: np.ndarray, b: np.ndarray,
             absorbed: list[Node], out: str) -> None:
    """Replace ``lin`` and ``absorbed`` by ``lin`` with weights ``W * s`` and bias ``b * s + t``."""
    new_w = _scaled(lin, w, s)
    new_b = (b * s + t).astype(w.dtype)
    inputs = list(lin.inputs[:2]) + [""]
    for slot, value in ((1, new_w), (2, new_b)):
        old = lin.inputs[slot] if len(lin.inputs) > slot else ""
        if old and old in graph.initializers and private(graph, old) and old not in graph.inputs:
            graph.initializers[old] = value  # read only here: keeps its (source) name
            inputs[slot] = old
        else:
            base = old or f"{lin.name}.bias"
            inputs[slot] = fresh(graph, base)
            graph.initializers[inputs[slot]] = value
    new = Node(name=lin.name, op_type=lin.op_type, inputs=inputs, outputs=[out], attrs=dict(lin.attrs),
               attr_types=dict(lin.attr_types), domain=lin.domain, doc_string=lin.doc_string, metadata=dict(lin.metadata))
    if lin.op_type == "Gemm":
        new.set_attr("beta", 1.0)
    replace(graph, [lin] + absorbed, new)


def _linear_before(graph: Graph, tensor: str, readers: int = 1) -> Node | None:
    lin = op(graph, tensor, *_LINEAR)
    if lin is None or not private(graph, tensor, readers) or len(lin.inputs) < 2:
        return None
    if lin.op_type == "Gemm" and (rank(graph, lin.inputs[0]) not in (2, None)):
        return None
    return lin


def _bn_affine(graph: Graph, bn: Node, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, t) with ``BN(y) = y * s + t`` per channel, for an inference BatchNormalization with
    constant parameters whose only used output is the first."""
    if bn.op_type != "BatchNormalization" or op(graph, bn.outputs[0], "BatchNormalization") is None:
        return None
    if int(bn.attrs.get("training_mode", 0)) or used_outputs(graph, bn)[1:] or len(bn.inputs) != 5 \
            or source_state(graph, *bn.inputs[1:]):
        return None
    params = [const(graph, t) for t in bn.inputs[1:]]
    if any(p is None or p.dtype.kind != "f" for p in params):
        return None
    scale, shift, mean, var = (p.astype(np.float64).reshape(-1) for p in params)
    if any(p.size != channels for p in (scale, shift, mean, var)):
        return None
    s = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
    return s, shift - mean * s


MAX_COPIES = 4  # a Linear read by up to this many BatchNorms is copied once per BatchNorm


@register()
def fold_batchnorm(graph: Graph) -> int:
    """An inference BatchNormalization whose input is a Conv, ConvTranspose or Gemm (constant float
    weights) goes into that node's weights and bias; a Linear read only by (up to 4) such
    BatchNorms becomes one Linear per BatchNorm."""
    folded = 0
    for bn in [n for n in graph.nodes if n.op_type == "BatchNormalization"]:
        if bn.name not in graph.nx:
            continue
        y = bn.inputs[0]
        readers = graph.consumers(y)
        if not 1 <= len(readers) <= MAX_COPIES:
            continue
        lin = _linear_before(graph, y, len(readers))
        found = _weights(graph, lin) if lin is not None else None
        if found is None:
            continue
        w, b = found
        channels = _channels(lin, w)
        bias = _bias_of(graph, lin, b, channels) if channels is not None else None
        affines = [_bn_affine(graph, r, channels) for r in readers] if bias is not None else [None]
        if any(a is None for a in affines):
            continue
        if len(readers) == 1:
            s, t = affines[0]
            _rewrite(graph, lin, w, s, t, bias, [bn], bn.outputs[0])
            folded += 1
            continue
        graph.remove_node(lin.name)
        for k, (r, (s, t)) in enumerate(zip(readers, affines)):
            copy = Node(name=f"{lin.name}_{k}" if k else lin.name, op_type=lin.op_type,
                        inputs=[lin.inputs[0], fresh(graph, f"{lin.inputs[1]}_{k}"), ""], outputs=[r.outputs[0]],
                        attrs=dict(lin.attrs), attr_types=dict(lin.attr_types), domain=lin.domain)
            graph.initializers[copy.inputs[1]] = _scaled(lin, w, s)
            copy.inputs[2] = fresh(graph, f"{lin.name}.bias_{k}")
            graph.initializers[copy.inputs[2]] = (bias * s + t).astype(w.dtype)
            if lin.op_type == "Gemm":
                copy.set_attr("beta", 1.0)
            replace(graph, [r], copy)
        folded += len(readers)
    return folded


def _per_channel(graph: Graph, tensor: str, out_rank: int | None, channels: int) -> np.ndarray | None:
    """A constant that broadcasts along the channel axis (1) of a rank ``out_rank`` tensor only,
    as a (channels,) float64 vector."""
    c = None if source_state(graph, tensor) else const(graph, tensor)
    if c is None or c.dtype.kind != "f" or out_rank is None or c.ndim > out_rank:
        return None
    if c.size == 1:
        return np.full(channels, float(c.reshape(-1)[0]))
    full = (1,) * (out_rank - c.ndim) + c.shape
    if full[1] != channels or any(d != 1 for i, d in enumerate(full) if i != 1):
        return None
    return c.astype(np.float64).reshape(-1)


def _affine_of(graph: Graph, node: Node, y: str, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, t) with ``node(y) = y * s + t`` per channel, for ``y * c``, ``y / c``, ``y + c``, ``y - c``."""
    c = _per_channel(graph, node.inputs[1] if node.inputs[0] == y else node.inputs[0], rank(graph, node.outputs[0]),
                     channels)
    if c is None or rank(graph, node.outputs[0]) != rank(graph, y):
        return None
    if node.op_type == "Mul":
        return c, np.zeros(channels)
    if node.op_type == "Div":
        return (None if np.any(c == 0) else (1.0 / c, np.zeros(channels)))
    return np.ones(channels), (c if node.op_type == "Add" else -c)


def _into_batchnorm(graph: Graph, node: Node, i: int) -> bool:
    """``BN(x) * c`` (/, +, -) with a per-channel ``c``: the BatchNorm's scale and bias take it."""
    bn = op(graph, node.inputs[i], "BatchNormalization")
    if bn is None or not private(graph, node.inputs[i]):
        return False
    scale, bias = const(graph, bn.inputs[1]), const(graph, bn.inputs[2])
    if scale is None or bias is None or scale.dtype.kind != "f" or scale.ndim != 1 or bias.shape != scale.shape \
            or _bn_affine(graph, bn, scale.size) is None:
        return False
    st = _affine_of(graph, node, node.inputs[i], scale.size)
    if st is None:
        return False
    s, t = st
    names = []
    for old, value in ((bn.inputs[1], scale * s), (bn.inputs[2], bias * s + t)):
        name = fresh(graph, old)
        graph.initializers[name] = value.astype(scale.dtype)
        names.append(name)
    new = Node(name=bn.name, op_type=bn.op_type, inputs=[bn.inputs[0]] + names + bn.inputs[3:], outputs=[node.outputs[0]],
               attrs=dict(bn.attrs), attr_types=dict(bn.attr_types), domain=bn.domain)
    replace(graph, [bn, node], new)
    return True


@register()
def fold_affine_into_conv(graph: Graph) -> int:
    """``Conv(x) * c``, ``Conv(x) / c``, ``Conv(x) + c`` and ``Conv(x) - c`` with a constant ``c``
    that varies only along the channel axis go into the Conv's weights and bias (and the same
    after an inference BatchNormalization into its scale and bias)."""
    folded = 0
    for node in [n for n in graph.nodes if n.op_type in ("Mul", "Div", "Add", "Sub")]:
        if node.name not in graph.nx or len(node.inputs) != 2:
            continue
        for i in (0, 1):
            if node.op_type in ("Div", "Sub") and i == 1:
                break
            if _into_batchnorm(graph, node, i):
                folded += 1
                break
            lin = op(graph, node.inputs[i], "Conv")
            if lin is None or _linear_before(graph, node.inputs[i]) is None:
                continue
            found = _weights(graph, lin)
            if found is None:
                continue
            w, b = found
            channels = w.shape[0]
            st = _affine_of(graph, node, node.inputs[i], channels)
            if st is None:
                continue
            s, t = st
            bias = np.zeros(channels) if b is None else b.astype(np.float64).reshape(-1)
            _rewrite(graph, lin, w, s, t, bias, [node], node.outputs[0])
            folded += 1
            break
    return folded

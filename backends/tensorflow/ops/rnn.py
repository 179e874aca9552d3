"""Recurrent ops: RNN, GRU, LSTM with ONNX's gate layouts (LSTM iofc, GRU zrh), activations
(with their alpha/beta), clip, peepholes, input_forget, linear_before_reset, sequence
lengths, directions and both layouts, as one ``tf.scan`` over time steps per direction."""

from __future__ import annotations

from ..registry import register
from .common import NodeCtx, lit

_DEFAULT = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def _recurrent(c: NodeCtx) -> None:
    op = c.node.op_type
    direction = c.choice("direction", "forward", ("forward", "reverse", "bidirectional"))
    dirs = 2 if direction == "bidirectional" else 1
    acts = list(c.attr("activations") or _DEFAULT[op] * dirs)
    alphas = list(c.attr("activation_alpha") or [])
    betas = list(c.attr("activation_beta") or [])
    spec = [(a, alphas[i] if i < len(alphas) else None, betas[i] if i < len(betas) else None)
            for i, a in enumerate(acts)]
    args = [repr(op), c.x(0), c.x(1), c.x(2)]
    for i in (3, 4, 5, 6, 7):
        args.append(c.x(i) if c.has(i) else "None")
    kw = [f"hidden={int(c.attr('hidden_size'))}", f"direction={direction!r}", f"activations={lit(spec)}"]
    if c.attr("clip") is not None:
        kw.append(f"clip={lit(float(c.attr('clip')))}")
    if int(c.attr("linear_before_reset", 0)):
        kw.append("linear_before_reset=True")
    if int(c.attr("layout", 0)):
        kw.append("layout=1")
    if int(c.attr("input_forget", 0)):
        kw.append("input_forget=True")
    n = len(c.node.outputs)
    c.outs(f"{c.helper('recurrent_onnx')}({', '.join(args + kw)})[:{n}]")


for _op in ("RNN", "GRU", "LSTM"):
    register(_op, since=14)(_recurrent)

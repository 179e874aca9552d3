"""Recurrent layers: RNN, GRU, LSTM (ONNX gate layouts, every direction, optional input)."""

from __future__ import annotations

from ..dialect import NodeCtx, lit
from ..registry import register

_DEFAULT_ACTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def _recurrent(c: NodeCtx) -> None:
    kind = c.node.op_type
    direction = c.choice("direction", "forward", ("forward", "reverse", "bidirectional"))
    dirs = 2 if direction == "bidirectional" else 1
    names = c.attr("activations") or _DEFAULT_ACTS[kind] * dirs
    names = [n.decode() if isinstance(n, bytes) else n for n in names]
    alphas = list(c.attr("activation_alpha", []) or [])
    betas = list(c.attr("activation_beta", []) or [])
    h = c.helper("recurrent_onnx")
    act = c.helper("rnn_activation")
    defaults = {"leakyrelu": (0.01, 0.0), "thresholdedrelu": (1.0, 0.0), "scaledtanh": (1.0, 1.0),
                "hardsigmoid": (0.2, 0.5), "elu": (1.0, 0.0), "affine": (1.0, 0.0)}
    acts, k = [], 0
    for n in names:
        a, b = defaults.get(n.lower(), (0.0, 0.0))
        if n.lower() in defaults:
            a = alphas[k] if k < len(alphas) else a
            b = betas[k] if k < len(betas) else b
            k += 1
        acts.append(f"{act}({n!r}, {lit(float(a))}, {lit(float(b))})")
    # helper slots: X, W, R, B, sequence_lens, initial_h, initial_c, P
    slots = {"RNN": [0, 1, 2, 3, 4, 5, None, None], "GRU": [0, 1, 2, 3, 4, 5, None, None],
             "LSTM": [0, 1, 2, 3, 4, 5, 6, 7]}[kind]
    args = [c.x(i) if i is not None and c.has(i) else "None" for i in slots]
    hidden = c.attr("hidden_size")
    if hidden is None:  # optional in the schema: R is [directions, gates * hidden, hidden]
        r_shape = c.shape(2)
        if r_shape is None or not isinstance(r_shape[-1], int):
            c.fail("no hidden_size and no static shape of R to read it from")
        hidden = r_shape[-1]
    hidden = int(hidden)
    clip = c.attr("clip")
    expr = (f"{h}({kind!r}, {', '.join(args)}, {hidden}, {direction!r}, [{', '.join(acts)}], "
            f"{lit(float(clip)) if clip is not None else 'None'}, {int(c.attr('linear_before_reset', 0))}, "
            f"{int(c.attr('layout', 0))})")
    c.outs(f"{expr}[:{len(c.node.outputs)}]")


for _op in ("RNN", "GRU", "LSTM"):
    register(_op, since=14)(_recurrent)

"""Control flow: If as ``tf.cond`` (only the taken branch when the condition is a constant),
Loop as ``tf.while_loop``, Scan as ``tf.while_loop`` over slices.

Each body becomes a nested function of ``__call__`` (its statements emitted by the core in a
child scope, so names never clash); scan outputs are collected in ``tf.TensorArray``s.
Loop-carried values may change shape from one iteration to the next, as ONNX allows, so
every loop variable's shape invariant is left open.
"""

from __future__ import annotations

from ..registry import register
from .common import NodeCtx, Val, tf_dtype

_IND = "    "


def _def(c: NodeCtx, name: str, params: list[str], lines: list[str], returns: list[str]) -> None:
    c.line(f"def {name}({', '.join(params)}):")
    for ln in lines:
        c.line(_IND + ln)
    c.line(_IND + "return " + (", ".join(returns) if len(returns) != 1 else returns[0]) if returns else _IND + "return ()")


def _scalar_bool(expr: str) -> str:
    return f"tf.reshape(tf.cast({expr}, tf.bool), [])"


@register("If")
def if_(c: NodeCtx) -> None:
    then_g, else_g = c.node.attrs["then_branch"], c.node.attrs["else_branch"]
    cond = c.const(0)
    kinds = []
    for j in range(len(c.node.outputs)):
        vt = c.out_type(j)
        kinds.append("seq" if vt is not None and vt.kind in ("sequence", "optional") else "tensor")
    if cond is not None:
        lines, outs = c.body(then_g if bool(cond.reshape(-1)[0]) else else_g, {})
        for ln in lines:
            c.line(ln)
        names = [c.var(j) for j in range(len(c.node.outputs))]
        pairs = [(n, e) for n, e in zip(names, outs)]
        if pairs:
            c.line(f"{', '.join(n for n, _ in pairs)} = {', '.join(e for _, e in pairs)}")
        for j, n in enumerate(names):
            c.bind(j, n, kinds[j])
        return
    then_fn, else_fn = c.tmp("then"), c.tmp("else")
    lines, outs = c.body(then_g, {})
    _def(c, then_fn, [], lines, outs)
    lines, outs = c.body(else_g, {})
    _def(c, else_fn, [], lines, outs)
    expr = f"tf.cond({_scalar_bool(c.x(0))}, {then_fn}, {else_fn})"
    if len(c.node.outputs) == 1:
        c.out(expr, kind=kinds[0])
    else:
        c.outs(expr, kinds)


def _elem_dtype(c: NodeCtx, graph, tensor: str) -> str:
    vt = graph.type_of(tensor)
    if vt is None or vt.dtype is None:
        c.fail(f"the element type of scan output '{tensor}' is unknown")
    return tf_dtype(vt.dtype)


@register("Loop")
def loop(c: NodeCtx) -> None:
    body = c.node.attrs["body"]
    n_carried = len(c.node.inputs) - 2
    n_scan = len(body.outputs) - 1 - n_carried
    it, cond = c.tmp("i"), c.tmp("cond")
    carried = [c.tmp(f"v{k}") for k in range(n_carried)]
    accs = [c.tmp(f"scan{k}") for k in range(n_scan)]
    binds = {body.inputs[0]: Val(it)}
    if len(body.inputs) > 1:
        binds[body.inputs[1]] = Val(cond)
    for k, (name, inp) in enumerate(zip(carried, body.inputs[2:])):
        vt = c.type(2 + k)
        binds[inp] = Val(name, "seq" if vt is not None and vt.kind in ("sequence", "optional") else "tensor")
    lines, outs = c.body(body, binds)
    writes = [f"{a}.write(tf.cast({it}, tf.int32), {e})" for a, e in zip(accs, outs[1 + n_carried:])]
    body_fn, cond_fn = c.tmp("body"), c.tmp("continue")
    params = [it, cond, *carried, *accs]
    _def(c, body_fn, params, lines, [f"{it} + 1", _scalar_bool(outs[0]), *outs[1:1 + n_carried], *writes])
    test = []
    if c.has(0):
        test.append(f"{it} < tf.cast(tf.reshape({c.x(0)}, []), tf.int64)")
    if c.has(1):
        test.append(cond)
    c.line(f"def {cond_fn}({', '.join(params)}):")
    c.line(_IND + "return " + (f"tf.logical_and({test[0]}, {test[1]})" if len(test) == 2 else test[0] if test
                              else "tf.constant(True)"))
    init = ["tf.constant(0, tf.int64)", _scalar_bool(c.x(1)) if c.has(1) else "tf.constant(True)"]
    init += [c.x(2 + k) for k in range(n_carried)]
    init += [f"tf.TensorArray({_elem_dtype(c, body, t)}, size=0, dynamic_size=True, infer_shape=False)"
             for t in body.outputs[1 + n_carried:]]
    results = ["_", "_", *[c.var(j) for j in range(n_carried)], *[c.tmp(f"stack{k}") for k in range(n_scan)]]
    c.line(f"{', '.join(results)} = tf.while_loop({cond_fn}, {body_fn}, [{', '.join(init)}], "
           f"shape_invariants=[tf.TensorShape(None)] * {len(init)})")
    for j in range(n_carried):
        c.bind(j, results[2 + j])
    for k in range(n_scan):
        c.out(f"{results[2 + n_carried + k]}.stack()", j=n_carried + k)


@register("Scan", since=9)
def scan(c: NodeCtx) -> None:
    body = c.node.attrs["body"]
    m = int(c.attr("num_scan_inputs"))
    n_state = len(c.node.inputs) - m
    n_out = len(c.node.outputs) - n_state
    in_axes = [int(a) for a in c.attr("scan_input_axes", [0] * m)]
    in_dirs = [int(a) for a in c.attr("scan_input_directions", [0] * m)]
    out_axes = [int(a) for a in c.attr("scan_output_axes", [0] * n_out)]
    out_dirs = [int(a) for a in c.attr("scan_output_directions", [0] * n_out)]
    it = c.tmp("t")
    states = [c.tmp(f"s{k}") for k in range(n_state)]
    accs = [c.tmp(f"scan{k}") for k in range(n_out)]
    xs = [c.x(n_state + k) for k in range(m)]
    length = c.tmp("length")
    c.line(f"{length} = tf.shape({xs[0]}, out_type=tf.int64)[{in_axes[0]}]")
    binds = {inp: Val(name) for name, inp in zip(states, body.inputs[:n_state])}
    for k, inp in enumerate(body.inputs[n_state:]):
        idx = it if not in_dirs[k] else f"{length} - 1 - {it}"
        binds[inp] = Val(f"tf.gather({xs[k]}, {idx}, axis={in_axes[k]})")
    lines, outs = c.body(body, binds)
    writes = [f"{a}.write(tf.cast({it}, tf.int32), {e})" for a, e in zip(accs, outs[n_state:])]
    body_fn = c.tmp("body")
    params = [it, *states, *accs]
    _def(c, body_fn, params, lines, [f"{it} + 1", *outs[:n_state], *writes])
    init = ["tf.constant(0, tf.int64)", *[c.x(k) for k in range(n_state)]]
    init += [f"tf.TensorArray({_elem_dtype(c, body, t)}, size=0, dynamic_size=True, infer_shape=False)"
             for t in body.outputs[n_state:]]
    results = ["_", *[c.var(j) for j in range(n_state)], *[c.tmp(f"stack{k}") for k in range(n_out)]]
    c.line(f"{', '.join(results)} = tf.while_loop(lambda {it}, *_: {it} < {length}, {body_fn}, [{', '.join(init)}], "
           f"shape_invariants=[tf.TensorShape(None)] * {len(init)})")
    for j in range(n_state):
        c.bind(j, results[1 + j])
    for k in range(n_out):
        stacked = f"{results[1 + n_state + k]}.stack()"
        if out_dirs[k]:
            stacked = f"tf.reverse({stacked}, [0])"
        if out_axes[k] != 0:
            rank = c.out_rank(n_state + k)
            axis = out_axes[k] + rank if out_axes[k] < 0 and rank is not None else out_axes[k]
            stacked = f"tf.experimental.numpy.moveaxis({stacked}, 0, {axis})"
        c.out(stacked, j=n_state + k)

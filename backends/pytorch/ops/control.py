"""Control flow: If becomes a Python ``if`` (only the taken branch when the condition is a
constant), Loop a ``for``/``while`` loop, Scan a ``for`` loop over slices."""

from __future__ import annotations

from ..dialect import NodeCtx, Val
from ..registry import register

_IND = "    "


def emit_body(c: NodeCtx, graph, bindings: dict[str, Val]) -> tuple[list[str], list[str]]:
    """Statements of a subgraph and the expressions of its outputs."""
    return c.body(graph, bindings)


def _assign(targets: list[str], exprs: list[str]) -> list[str]:
    pairs = [(t, e) for t, e in zip(targets, exprs) if t != e]
    if not pairs:
        return []
    return [f"{', '.join(t for t, _ in pairs)} = {', '.join(e for _, e in pairs)}"]


@register("If")
def if_(c: NodeCtx) -> None:
    then_g, else_g = c.node.attrs["then_branch"], c.node.attrs["else_branch"]
    cond = c.const(0)
    names = [c.var(j) for j in range(len(c.node.outputs))]
    if cond is not None:
        lines, outs = emit_body(c, then_g if bool(cond.reshape(-1)[0]) else else_g, {})
        for ln in lines:
            c.line(ln)
        for ln in _assign(names, outs):
            c.line(ln)
    else:
        c.line(f"if {c.x(0)}:")
        lines, outs = emit_body(c, then_g, {})
        body = lines + _assign(names, outs)
        for ln in body or ["pass"]:
            c.line(_IND + ln)
        c.line("else:")
        lines, outs = emit_body(c, else_g, {})
        body = lines + _assign(names, outs)
        for ln in body or ["pass"]:
            c.line(_IND + ln)
    for j, n in enumerate(names):
        vt = c.out_type(j)
        kind = "seq" if vt is not None and vt.kind == "sequence" else "tensor"
        c.bind(j, n, kind)


@register("Loop")
def loop(c: NodeCtx) -> None:
    body = c.node.attrs["body"]
    n_carried = len(c.node.inputs) - 2
    outs = c.node.outputs
    carried = [c.var(j) for j in range(n_carried)]
    scans = [c.var(j) for j in range(n_carried, len(outs))]
    for name, i in zip(carried, range(2, 2 + n_carried)):
        c.line(f"{name} = {c.x(i)}")
    for s in scans:
        c.line(f"{s} = []")
    it = c.tmp("i")
    cond = c.tmp("cond") if c.has(1) else None
    trip = None
    if c.has(0):
        s = c.scalar(0)
        trip = str(int(s)) if s is not None else f"int({c.x(0)})"
    if cond:
        c.line(f"{cond} = {c.x(1)}")
    c.line(f"{it} = 0")
    test = []
    if trip is not None:
        test.append(f"{it} < {trip}")
    if cond:
        test.append(f"bool({cond})")
    c.line(f"while {' and '.join(test) if test else 'True'}:")
    bind = {body.inputs[0]: Val(it, "int")}
    if len(body.inputs) > 1:
        bind[body.inputs[1]] = Val(cond or "torch.tensor(True)", "tensor")
    for k, (name, inp) in enumerate(zip(carried, body.inputs[2:])):
        vt = c.type(2 + k)
        bind[inp] = Val(name, "seq" if vt is not None and vt.kind in ("sequence", "optional") else "tensor")
    lines, body_outs = emit_body(c, body, bind)
    tail = _assign(([cond] if cond else ["_"]) + carried, body_outs[: 1 + n_carried])
    tail = [t for t in tail if t != "_ = " + body_outs[0]]
    for s, e in zip(scans, body_outs[1 + n_carried:]):
        tail.append(f"{s}.append({e})")
    tail.append(f"{it} += 1")
    for ln in lines + tail:
        c.line(_IND + ln)
    for j, name in enumerate(carried):
        c.bind(j, name, bind[body.inputs[2 + j]].kind if 2 + j < len(body.inputs) else "tensor")
    for k, s in enumerate(scans):
        j = n_carried + k
        vt = c.out_type(j)
        if vt is not None and vt.kind == "sequence":
            c.bind(j, s, "seq")
        else:
            c.line(f"{s} = torch.stack({s})")
            c.bind(j, s, "tensor")


@register("Scan", since=9)
def scan(c: NodeCtx) -> None:
    body = c.node.attrs["body"]
    m = int(c.attr("num_scan_inputs"))
    n_state = len(c.node.inputs) - m
    in_axes = list(c.attr("scan_input_axes", [0] * m))
    in_dirs = list(c.attr("scan_input_directions", [0] * m))
    n_out_scan = len(c.node.outputs) - n_state
    out_axes = list(c.attr("scan_output_axes", [0] * n_out_scan))
    out_dirs = list(c.attr("scan_output_directions", [0] * n_out_scan))
    states = [c.var(j) for j in range(n_state)]
    scans = [c.var(j) for j in range(n_state, len(c.node.outputs))]
    for name, i in zip(states, range(n_state)):
        c.line(f"{name} = {c.x(i)}")
    for s in scans:
        c.line(f"{s} = []")
    xs = [c.x(n_state + k) for k in range(m)]
    t = c.tmp("t")
    c.line(f"for {t} in range({xs[0]}.shape[{in_axes[0]}]):")
    bind = {}
    for name, inp in zip(states, body.inputs[:n_state]):
        bind[inp] = Val(name, "tensor")
    for k, inp in enumerate(body.inputs[n_state:]):
        idx = t if not in_dirs[k] else f"{xs[k]}.shape[{in_axes[k]}] - 1 - {t}"
        bind[inp] = Val(f"{xs[k]}.select({in_axes[k]}, {idx})", "tensor")
    lines, body_outs = emit_body(c, body, bind)
    tail = _assign(states, body_outs[:n_state])
    for s, e in zip(scans, body_outs[n_state:]):
        tail.append(f"{s}.append({e})")
    for ln in lines + tail:
        c.line(_IND + ln)
    for j, name in enumerate(states):
        c.bind(j, name, "tensor")
    for k, s in enumerate(scans):
        seq = f"{s}[::-1]" if out_dirs[k] else s
        c.line(f"{s} = torch.stack({seq}, dim={out_axes[k]})")
        c.bind(n_state + k, s, "tensor")

"""Layout passes: run channel-first ops channels-last and move the transposes that costs
until they cancel.

The IR keeps ONNX semantics on whatever a tensor physically holds.  A tensor that holds
another tensor's value in another layout is recorded in ``graph.layouts``:
``layouts[t] = (holder, perm)`` says the value of the original tensor ``t`` is
``transpose(value(holder), perm)``.  Every pass here that removes a Transpose
``b = Transpose(a, perm)`` records ``layouts[b] = (a, perm)``, so a backend can tell the
parity check where each original tensor went (:func:`resolve`).

- :func:`channels_last`: Conv, ConvTranspose and the pools become their channels-last
  forms (domain :data:`CHANNELS_LAST`: same attributes, channels on the last axis,
  kernels spatial-first, i.e. HWIO) between a transpose in and a transpose out; constant
  kernels are transposed once, here.
- :func:`push_transposes`: a Transpose moves below a consumer that does not care about
  the layout (elementwise ops, activations, Concat/Split/Reduce*/Softmax/Pad/Slice/Resize
  ... with their axes rewritten; BatchNorm/InstanceNorm/LRN/DepthToSpace/SpaceToDepth
  becoming channels-last) when every consumer of its output can take it.  It stops at
  Reshape, Flatten, MatMul and every op not listed.
- :func:`cancel_transposes`: consecutive transposes merge (an inverse pair disappears),
  identity transposes and transposes of constants go.

Which ops are layout-agnostic, and how their axes follow a permutation, is the one op-traits
table of ``ir/passes/op_traits.py`` (shared with the optimizer's ``sink_transposes``).
A layout is never inferred from a shape: only an op's definition (Conv's input is
channel-first) decides.  :func:`set_external_layout` changes what the caller feeds or
gets (``--inputs-as-nhwc`` / ``--outputs-as-nhwc``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..graph import Graph
from ..node import Node
from ..opset import is_default_domain
from ..types import ValueType
from . import register
from .match import source_state
# the op-traits table and the permutation algebra (ALWAYS, WHEN_FED, to_first, to_last ... are
# re-exported: the TensorFlow backend's ops import them from here)
from .op_traits import (ALWAYS, AXIS_DEFAULT, WHEN_FED, compose, inverse, is_identity, kind,  # noqa: F401
                        moved_axes, moved_axis, moved_pads, reduced, squeezed_perm, to_first, to_last)

# the domain of the channels-last forms of channel-first ops (Conv, pools, norms ...)
CHANNELS_LAST = "mmconvert.channels_last"


# ------------------------------------------------------------------ permutations
def permuted(vt: ValueType | None, perm) -> ValueType | None:
    """The type of ``transpose(t, perm)`` for a tensor of type ``vt``."""
    if vt is None or vt.shape is None or len(vt.shape) != len(perm):
        return None if vt is None or vt.shape is not None else vt
    return ValueType.tensor(vt.dtype, [vt.shape[p] for p in perm])


def _suffix(perm) -> str:
    r = len(perm)
    if 3 <= r <= 5 and list(perm) == _kernel_perm(r):
        return {3: "wio", 4: "hwio", 5: "dhwio"}[r]
    if 3 <= r <= 5 and list(perm) == to_last(r):
        return {3: "nwc", 4: "nhwc", 5: "ndhwc"}[r]
    if 3 <= r <= 5 and list(perm) == to_first(r):
        return {3: "ncw", 4: "nchw", 5: "ncdhw"}[r]
    return "t"


# ------------------------------------------------------------------ records
def record(graph: Graph, tensor: str, holder: str, perm) -> None:
    """``tensor``'s value is now ``transpose(holder, perm)`` (the tensor itself may be gone)."""
    if tensor != holder or not is_identity(perm):
        graph.layouts[tensor] = (holder, [int(p) for p in perm])


def resolve(graph: Graph, tensor: str, present) -> tuple[str, list[int]] | None:
    """(holder, perm) for a recorded ``tensor``, following records until ``present(holder)``."""
    if tensor not in graph.layouts:
        return None
    holder, perm = graph.layouts[tensor]
    seen = {tensor}
    while not present(holder) and holder in graph.layouts and holder not in seen:
        seen.add(holder)
        nxt, p2 = graph.layouts[holder]
        perm, holder = compose(p2, perm), nxt
    return (holder, list(perm)) if present(holder) else None


# ------------------------------------------------------------------ graph edits
def _transpose(g: Graph, tensor: str, perm, base: str | None = None) -> str:
    """A tensor holding ``transpose(tensor, perm)``: a folded constant, or a new Transpose node."""
    for other in g.consumers(tensor):  # one transpose per (tensor, perm), shared by its readers
        if other.op_type == "Transpose" and is_default_domain(other.domain) and tensor in other.inputs \
                and list(other.attrs.get("perm") or []) == [int(p) for p in perm]:
            return other.outputs[0]
    name = g.unique_tensor_name(f"{base or tensor}_{_suffix(perm)}")
    c = g.constant(tensor)
    if c is not None and c.dtype != object:
        g.initializers[name] = np.ascontiguousarray(np.transpose(c, perm))
        return name
    g.make_node("Transpose", [tensor], [name], name=name, perm=[int(p) for p in perm])
    vt = permuted(g.type_of(tensor), perm)
    if vt is not None:
        g.values[name] = vt
    return name


def _kernel(g: Graph, node: Node, tensor: str, perm) -> str:
    """A convolution's kernel stored spatial-first: a weight only ``node`` reads is rearranged
    where it is and keeps its name (``conv1.weight`` stays the variable's name); otherwise the
    rearranged copy is a new tensor (:func:`_transpose`)."""
    c = g.constant(tensor)
    if c is None or c.dtype == object or tensor not in g.initializers or tensor in g.inputs \
            or tensor in g.outputs or [n.name for n in g.consumers(tensor)] != [node.name] \
            or _feeds_subgraph(g, tensor):
        return _transpose(g, tensor, perm)
    g.initializers[tensor] = np.ascontiguousarray(np.transpose(c, perm))
    g.values.pop(tensor, None)
    return tensor


def _feeds_subgraph(g: Graph, tensor: str) -> bool:
    return any(tensor not in n.inputs for n in g.consumers(tensor))


def _drop_transpose(g: Graph, node: Node) -> bool:
    """Remove a Transpose nobody reads, recording where its output's value lives."""
    out = node.outputs[0]
    if node.name not in g.nx or out in g.outputs or g.consumers(out):
        return False
    g.remove_node(node.name)
    g.values.pop(out, None)
    record(g, out, node.inputs[0], node.attrs.get("perm") or list(reversed(range(_rank_of(g, node.inputs[0]) or 0))))
    return True


def _rank_of(g: Graph, tensor: str) -> int | None:
    c = g.constant(tensor)
    if c is not None:
        return c.ndim
    vt = g.type_of(tensor)
    return None if vt is None or vt.shape is None else len(vt.shape)


def _replace(g: Graph, node: Node, inputs: list[str], out_perms: list, *, domain: str | None = None,
             attrs: dict | None = None) -> Node:
    """Re-create ``node`` (same name) reading ``inputs``; output ``j`` is produced in the layout
    whose ``transpose(., out_perms[j])`` is the original (None: unchanged), followed by that
    transpose under the original name."""
    g.remove_node(node.name)
    new = Node(name=node.name, op_type=node.op_type, inputs=list(inputs), outputs=list(node.outputs),
               attrs=dict(node.attrs), attr_types=dict(node.attr_types),
               domain=node.domain if domain is None else domain, doc_string=node.doc_string,
               metadata=dict(node.metadata))
    for k, v in (attrs or {}).items():
        if v is None:
            new.del_attr(k)
        else:
            new.set_attr(k, v, node.attr_types.get(k))
    back = []
    for j, (out, perm) in enumerate(zip(node.outputs, out_perms)):
        if not out or perm is None or is_identity(perm):
            continue
        phys = g.unique_tensor_name(f"{out}_{_suffix(inverse(perm))}")
        vt = permuted(g.type_of(out), inverse(perm))
        if vt is not None:
            g.values[phys] = vt
        new.outputs[j] = phys
        back.append((phys, perm, out))
    g.add_node(new)
    for phys, perm, out in back:
        g.make_node("Transpose", [phys], [out], name=g.unique_tensor_name(f"{out}_{_suffix(perm)}"),
                    perm=[int(p) for p in perm])
    return new


# ------------------------------------------------------------------ channels_last
def _data_rank(g: Graph, node: Node) -> int | None:
    if node.op_type in ("Conv", "ConvTranspose"):
        r = _rank_of(g, node.inputs[1])
        return r if r is not None else _rank_of(g, node.inputs[0])
    if "kernel_shape" in node.attrs:
        return len(node.attrs["kernel_shape"]) + 2
    return _rank_of(g, node.inputs[0])


def _kernel_perm(rank: int) -> list[int]:
    """OI... (ONNX kernels) -> ...IO (TensorFlow's filters)."""
    return [*range(2, rank), 1, 0]


@register()
def channels_last(graph: Graph) -> int:
    """Run Conv, ConvTranspose and the pools channels-last: each becomes its channels-last form
    (domain mmconvert.channels_last, kernels stored spatial-first, HWIO) between a transpose to
    channels-last and one back; push_transposes and cancel_transposes then remove those between
    such ops."""
    changed = 0
    for g in graph.iter_graphs():
        for node in g.nodes:
            if not is_default_domain(node.domain) or node.op_type not in ALWAYS:
                continue
            r = _data_rank(g, node)
            if r is None or not 3 <= r <= 5:
                continue
            if node.op_type == "MaxPool" and len(node.outputs) > 1 and node.outputs[1]:
                continue  # Indices are defined on the channel-first layout
            inputs = list(node.inputs)
            inputs[0] = _transpose(g, inputs[0], to_last(r))
            if node.op_type in ("Conv", "ConvTranspose"):
                inputs[1] = _kernel(g, node, inputs[1], _kernel_perm(r))
            _replace(g, node, inputs, [to_first(r)] + [None] * (len(node.outputs) - 1), domain=CHANNELS_LAST)
            changed += 1
    return changed


# ------------------------------------------------------------------ push_transposes
def _physical(g: Graph, tensor: str, perm, rank: int) -> str | None:
    """The tensor a rewritten consumer reads instead of ``tensor`` (the logical view of a
    physical value ``transpose(phys, perm)``), or None when there is none without a new transpose."""
    src = g.producer(tensor)
    if src is not None and src.op_type == "Transpose" and is_default_domain(src.domain) \
            and list(src.attrs.get("perm") or []) == list(perm):
        return src.inputs[0]
    c = g.constant(tensor)
    if c is not None and c.dtype != object:
        if c.size == 1 and c.ndim <= rank:
            return tensor
        if c.ndim > rank:
            return None
        full = c.reshape((1,) * (rank - c.ndim) + c.shape)
        name = g.unique_tensor_name(f"{tensor}_{_suffix(inverse(perm))}")
        g.initializers[name] = np.ascontiguousarray(np.transpose(full, inverse(perm)))
        return name
    vt = g.type_of(tensor)
    if vt is not None and vt.shape is not None and len(vt.shape) <= rank and all(d == 1 for d in vt.shape):
        return tensor  # one element: the same in every layout
    return None


def _const_ints(g: Graph, node: Node, slot: int) -> list[int] | None:
    if slot >= len(node.inputs) or not node.inputs[slot]:
        return None
    c = g.constant(node.inputs[slot])
    return None if c is None else [int(v) for v in np.asarray(c).reshape(-1)]


def _new_ints(g: Graph, base: str, values) -> str:
    return g.add_initializer(base, np.array([int(v) for v in values], dtype=np.int64))


def _plan(g: Graph, node: Node, tensor: str, perm):
    """A function rewriting ``node`` to read the physical value of ``tensor`` (a Transpose by
    ``perm`` of it), or None when ``node`` cannot take a transposed input."""
    if not is_default_domain(node.domain):
        return None
    r = len(perm)
    op = node.op_type
    if tensor not in node.inputs:
        return None  # read inside a subgraph

    def data(slots, out_perms, attrs=None, extra=None, domain=None):
        def apply():
            inputs = list(node.inputs)
            for s in slots:
                if s < len(inputs) and inputs[s]:
                    phys = _physical(g, inputs[s], perm, r)
                    inputs[s] = phys
            for s, v in (extra or {}).items():
                inputs[s] = v() if callable(v) else v
            _replace(g, node, inputs, out_perms, attrs=attrs, domain=domain)
        # every data input must have a physical form (checked before anything changes)
        for s in slots:
            if s < len(node.inputs) and node.inputs[s] and not _has_physical(g, node.inputs[s], perm, r):
                return None
        return apply

    outs = [perm] * len(node.outputs)
    if op == "Transpose":
        return lambda: _merge(g, node)
    trait = kind(op)
    if trait == "unary":
        if op == "Dropout" and len(node.outputs) > 1 and node.outputs[1]:
            return None
        return data([0], outs)
    if trait == "broadcast":
        if any(_rank_of(g, t) is None or _rank_of(g, t) > r for t in node.inputs if t):
            return None
        return data(list(range(len(node.inputs))), outs)
    if trait == "quantize":
        if any(g.constant(t) is None or g.constant(t).size != 1 for t in node.inputs[1:] if t):
            return None
        return data([0], outs)
    if trait == "axis":
        default = AXIS_DEFAULT[op]
        axis = int(node.attrs["axis"] if default is None else node.attrs.get("axis", default)) % r
        if op == "Concat":
            if any(_rank_of(g, t) != r for t in node.inputs if t):
                return None
            return data(list(range(len(node.inputs))), outs, {"axis": moved_axis(perm, axis)})
        if op in ("ArgMax", "ArgMin") and not int(node.attrs.get("keepdims", 1)):
            outs = [squeezed_perm(perm, {axis})]
        return data([0], outs, {"axis": moved_axis(perm, axis)})
    if trait == "reduce":
        if len(node.inputs) > 1 and node.inputs[1]:
            axes = _const_ints(g, node, 1)
            if axes is None:
                return None
        else:
            axes = []
        if not axes and int(node.attrs.get("noop_with_empty_axes", 0)):
            return data([0], outs)
        new_axes, out = reduced(perm, [a % r for a in axes] if axes else range(r), int(node.attrs.get("keepdims", 1)))
        return data([0], [out], extra={1: lambda: _new_ints(g, f"{node.name}_axes", new_axes)})
    if trait == "squeeze":
        axes = _const_ints(g, node, 1)
        if axes is None:
            return None
        logical = {a % r for a in axes}
        return data([0], [squeezed_perm(perm, logical)],
                    extra={1: lambda: _new_ints(g, f"{node.name}_axes", moved_axes(perm, logical))})
    if trait == "cumulative":
        axis = _const_ints(g, node, 1)
        if axis is None:
            return None
        return data([0], outs, extra={1: lambda: g.add_initializer(
            f"{node.name}_axis", np.array(moved_axis(perm, axis[0]), dtype=g.constant(node.inputs[1]).dtype))})
    if trait == "pad":
        pads = _const_ints(g, node, 1)
        has_axes = len(node.inputs) > 3 and bool(node.inputs[3])
        axes = _const_ints(g, node, 3) if has_axes else None
        if pads is None or (has_axes and axes is None):
            return None
        extra = {1: lambda: _new_ints(g, f"{node.name}_pads", moved_pads(perm, pads, axes))}
        if has_axes:
            extra[3] = ""
        return data([0], outs, extra=extra)
    if trait == "slice":
        starts = _const_ints(g, node, 1)
        if len(node.inputs) > 3 and node.inputs[3]:
            axes = _const_ints(g, node, 3)
        else:
            axes = None if starts is None else list(range(len(starts)))
        if axes is None:
            return None
        inputs_extra = {3: lambda: _new_ints(g, f"{node.name}_axes", [moved_axis(perm, a) for a in axes])}
        return data([0], outs, extra=inputs_extra)
    if trait == "resize":
        if node.attrs.get("axes") is not None:
            return None
        extra = {}
        for slot in (1, 2, 3):
            if slot < len(node.inputs) and node.inputs[slot]:
                c = g.constant(node.inputs[slot])
                if c is None or (c.size and c.size != (2 * r if slot == 1 else r)):
                    return None
                if c.size:
                    if slot == 1:
                        v = np.concatenate([c[:r][inverse(perm)], c[r:][inverse(perm)]])
                    else:
                        v = np.asarray(c)[inverse(perm)]
                    extra[slot] = (lambda v=v, s=slot: g.add_initializer(f"{node.name}_{('roi', 'scales', 'sizes')[s - 1]}",
                                                                        np.ascontiguousarray(v)))
        return data([0], outs, extra=extra)
    if trait == "channels_last" and op in WHEN_FED and 3 <= r <= 5 and list(perm) == to_first(r):
        if op in ("DepthToSpace", "SpaceToDepth") and r != 4:
            return None
        if op == "BatchNormalization" and len(node.outputs) > 1 and any(node.outputs[1:]):
            return None
        return data([0], [perm] + [None] * (len(node.outputs) - 1), domain=CHANNELS_LAST)
    return None


def _has_physical(g: Graph, tensor: str, perm, rank: int) -> bool:
    src = g.producer(tensor)
    if src is not None and src.op_type == "Transpose" and list(src.attrs.get("perm") or []) == list(perm):
        return True
    c = g.constant(tensor)
    if c is not None and c.dtype != object:
        return c.ndim <= rank
    vt = g.type_of(tensor)
    return vt is not None and vt.shape is not None and len(vt.shape) <= rank and all(d == 1 for d in vt.shape)


def _follows(g: Graph, tensor: str, root: str, depth: int = 6) -> bool:
    """Whether ``tensor`` is computed from ``root`` by layout-agnostic elementwise ops only (with
    constants beside it): once a transpose of ``root`` moves down that chain, it reaches here."""
    if tensor == root:
        return True
    if depth == 0 or g.constant(tensor) is not None:
        return g.constant(tensor) is not None
    src = g.producer(tensor)
    if src is None or not is_default_domain(src.domain) or kind(src.op_type) not in ("unary", "broadcast"):
        return False
    slots = [0] if kind(src.op_type) == "unary" else range(len(src.inputs))
    return all(_follows(g, src.inputs[s], root, depth - 1) for s in slots if s < len(src.inputs) and src.inputs[s])


def _waits(g: Graph, node: Node, out: str) -> bool:
    """A consumer of ``out`` not yet able to take the transpose, but that will be once the
    transpose has moved down its other inputs' chains (``x * sigmoid(x)``, GELU's ``x * (...)``)."""
    if not is_default_domain(node.domain) or kind(node.op_type) != "broadcast" or out not in node.inputs:
        return False
    return all(_follows(g, t, out) for t in node.inputs if t)


@register()
def push_transposes(graph: Graph) -> int:
    """Move each Transpose below its consumers when every one of them is layout-agnostic
    (elementwise ops and activations; Concat, Split, Reduce*, ArgMax/Min, Softmax, CumSum, Pad,
    Slice, Squeeze and Resize with their axes rewritten; BatchNorm, InstanceNorm, LRN,
    DepthToSpace and SpaceToDepth becoming channels-last) or waits for it on another input
    (``x * sigmoid(x)``); it stops at anything else (Reshape, Flatten, MatMul ...)."""
    changed = 0
    for g in graph.iter_graphs():
        queue = [n.name for n in g.nodes if n.op_type == "Transpose"]
        budget = 50 * len(queue) + 100
        while queue and budget:
            budget -= 1
            name = queue.pop(0)
            if name not in g.nx:
                continue
            node = g.node(name)
            perm = node.attrs.get("perm")
            out = node.outputs[0]
            if node.op_type != "Transpose" or not is_default_domain(node.domain) or perm is None \
                    or out in g.outputs or _feeds_subgraph(g, out):
                continue
            consumers = g.consumers(out)
            if not consumers:
                continue
            plans = [_plan(g, n, out, perm) for n in consumers]
            ready = [p for p in plans if p is not None]
            waiting = [n for n, p in zip(consumers, plans) if p is None]
            if not ready or not all(_waits(g, n, out) for n in waiting):
                continue
            before = set(g.nx.nodes)
            for p in ready:
                p()
            _drop_transpose(g, node)
            changed += 1
            created = [n for n in g.nx.nodes if n not in before and g.node(n).op_type == "Transpose"]
            queue.extend(created)
            if name in g.nx:
                queue.append(name)  # still read by a waiting consumer: try again after the others
    return changed


# ------------------------------------------------------------------ cancel_transposes
def _merge(g: Graph, node: Node) -> bool:
    """``node`` (a Transpose) reading another Transpose's output reads that one's input instead,
    with the composed permutation; an identity result disappears."""
    src = g.producer(node.inputs[0])
    if src is None or src.op_type != "Transpose" or not is_default_domain(src.domain):
        return False
    p1, p2 = src.attrs.get("perm"), node.attrs.get("perm")
    if p1 is None or p2 is None:
        return False
    perm = compose(p1, p2)
    g.set_inputs(node, [src.inputs[0]])
    node.set_attr("perm", perm, "INTS")
    _drop_transpose(g, src)
    return True


def _bypass(g: Graph, node: Node) -> bool:
    """Remove an identity Transpose (its readers read its input); a graph output keeps a node."""
    out, src = node.outputs[0], node.inputs[0]
    if out in g.outputs:
        g.remove_node(node.name)
        g.make_node("Identity", [src], [out], name=node.name)
        return True
    g.rename_tensor_uses(out, src)  # subgraph bodies reading it from this scope included
    g.remove_node(node.name)
    g.values.pop(out, None)
    record(g, out, src, list(range(len(node.attrs["perm"]))))
    return True


def _fill_transposed(g: Graph, node: Node) -> bool:
    """A Transpose of a ConstantOfShape with a constant shape is a ConstantOfShape of the
    permuted shape (one value everywhere: no data moves)."""
    src = g.producer(node.inputs[0])
    if src is None or src.op_type != "ConstantOfShape" or not is_default_domain(src.domain):
        return False
    shape = _const_ints(g, src, 0)
    if shape is None or len(shape) != len(node.attrs["perm"]):
        return False
    out = node.outputs[0]
    g.remove_node(node.name)
    name = g.add_initializer(f"{out}_shape", np.array([shape[p] for p in node.attrs["perm"]], dtype=np.int64))
    fill = Node(name=node.name, op_type="ConstantOfShape", inputs=[name], outputs=[out], attrs=dict(src.attrs),
                attr_types=dict(src.attr_types))
    g.add_node(fill)
    if not g.consumers(src.outputs[0]) and src.outputs[0] not in g.outputs:
        g.remove_node(src.name)
    return True


@register()
def cancel_transposes(graph: Graph) -> int:
    """Merge a Transpose of a Transpose into one (an inverse pair cancels), drop identity
    Transposes, fold Transposes of constants (not of a source's own parameters, which keep
    their shape), and remove Transposes nothing reads."""
    changed = 0
    for g in graph.iter_graphs():
        for node in g.nodes:
            if node.name not in g.nx or node.op_type != "Transpose" or not is_default_domain(node.domain):
                continue
            perm = node.attrs.get("perm")
            if perm is None:
                continue
            if _merge(g, node):
                changed += 1
            if is_identity(node.attrs["perm"]):
                changed += _bypass(g, node)
                continue
            if _fill_transposed(g, node):
                changed += 1
                continue
            c = g.constant(node.inputs[0])
            out = node.outputs[0]
            if c is not None and c.dtype != object and out not in g.outputs and c.size <= (1 << 24) \
                    and not source_state(graph, node.inputs[0]):  # a source's parameter keeps its shape
                g.remove_node(node.name)
                g.initializers[out] = np.ascontiguousarray(np.transpose(c, node.attrs["perm"]))
                g.values.pop(out, None)
                changed += 1
                continue
            changed += _drop_transpose(g, node)
    return changed


# ------------------------------------------------------------------ external layout
def _pick(names: list[str], wanted, what: str) -> list[str]:
    if wanted in (True, "all", ["all"], ("all",)):
        return list(names)
    wanted = [wanted] if isinstance(wanted, str) else list(wanted or [])
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise InputError(f"--{what}-as-nhwc names {', '.join(unknown)}, not graph {what}s "
                         f"(the {what}s are: {', '.join(names)})")
    return wanted


def set_external_layout(graph: Graph, inputs=None, outputs=None) -> list[str]:
    """Feed the chosen graph inputs, and return the chosen outputs, channels-last (all of
    rank 3 to 5 with ``True``, or a list of names): inside, a transpose restores the
    source's layout, so the layout passes can cancel it.  Returns the tensors changed."""
    changed = []
    for name in _pick(graph.real_inputs, inputs, "input") if inputs else []:
        r = _rank_of(graph, name)
        if r is None or not 3 <= r <= 5:
            if inputs in (True, "all"):
                continue
            raise InputError(f"input '{name}' has rank {r}: --inputs-as-nhwc takes inputs of rank 3 to 5")
        if _feeds_subgraph(graph, name):
            raise InputError(f"input '{name}' is read inside a subgraph: it keeps its layout")
        logical = graph.unique_tensor_name(f"{name}_{_suffix(to_first(r))}")
        for consumer in graph.consumers(name):
            graph.set_inputs(consumer, [logical if t == name else t for t in consumer.inputs])
        graph.outputs = [logical if t == name else t for t in graph.outputs]
        vt = graph.type_of(name)
        graph.values[logical] = vt
        graph.values[name] = permuted(vt, to_last(r))
        graph.make_node("Transpose", [name], [logical], name=logical, perm=to_first(r))
        record(graph, name, name, to_first(r))
        changed.append(name)
    for name in _pick(graph.outputs, outputs, "output") if outputs else []:
        r = _rank_of(graph, name)
        producer = graph.producer(name)
        if r is None or not 3 <= r <= 5 or producer is None:
            if outputs in (True, "all"):
                continue
            raise InputError(f"output '{name}' has rank {r}: --outputs-as-nhwc takes computed outputs of rank 3 to 5")
        logical = graph.unique_tensor_name(f"{name}_{_suffix(to_first(r))}")
        graph.remove_node(producer.name)
        producer.outputs = [logical if t == name else t for t in producer.outputs]
        for consumer in graph.consumers(name):
            graph.set_inputs(consumer, [logical if t == name else t for t in consumer.inputs])
        graph.add_node(producer)
        vt = graph.type_of(name)
        graph.values[logical] = vt
        graph.values[name] = permuted(vt, to_last(r))
        graph.make_node("Transpose", [logical], [name], name=f"{name}_{_suffix(to_last(r))}", perm=to_last(r))
        record(graph, name, name, to_first(r))
        changed.append(name)
    return changed


__all__ = ["ALWAYS", "CHANNELS_LAST", "WHEN_FED", "cancel_transposes", "channels_last", "compose", "inverse",
           "push_transposes", "record", "resolve", "set_external_layout", "to_first", "to_last"]

"""What the optimizer's passes share: reading constants and types, finding the one reader of
a tensor, rewiring a tensor's readers, and taking products apart.

Every rewrite here keeps a graph output's name (and so its dtype and symbolic dims): a
tensor that is a graph output is never renamed away, only the tensor feeding it may take
its name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..graph import Graph
from ..node import Node
from ..opset import is_default_domain
from ..types import ValueType


# ------------------------------------------------------------------ reading
def op(graph: Graph, tensor: str, *op_types: str) -> Node | None:
    """The default-domain node producing ``tensor`` when its op type is one of ``op_types``."""
    n = graph.producer(tensor) if tensor else None
    if n is None or n.op_type not in op_types or not is_default_domain(n.domain):
        return None
    return n


def overridable(graph: Graph, tensor: str) -> bool:
    """An initializer that is also a graph input is a default a caller may override, from ONNX
    IR version 4 on; before that every weight was listed among the inputs (a constant)."""
    return tensor in graph.inputs and int(graph.metadata.get("ir_version") or 4) >= 4


def const(graph: Graph, tensor: str) -> np.ndarray | None:
    """The value of ``tensor`` when it is a constant (an initializer that is not an overridable
    graph input, or a Constant node's output)."""
    if not tensor or overridable(graph, tensor):
        return None
    c = graph.constant(tensor)
    return None if c is None or c.dtype == object else np.asarray(c)


def state_names(graph: Graph) -> frozenset[str]:
    """The source's own state: the parameters and buffers a PyTorch or Keras source listed in
    ``metadata["state_dict"]`` (empty for an ONNX source).  A pass may read them but never
    rewrite, merge or drop them, so that the emitted module still loads the source's weights by
    name.  A pass that asks for every node or initializer takes this set once."""
    return frozenset(graph.metadata.get("state_dict") or ())


def source_state(graph: Graph, *tensors: str) -> bool:
    """One of ``tensors`` is the source's own state (see :func:`state_names`)."""
    state = graph.metadata.get("state_dict") or ()
    return any(t in state for t in tensors if t)


def scalar(graph: Graph, tensor: str) -> float | None:
    """A constant holding one number (of any shape with one element), as a float."""
    c = const(graph, tensor)
    if c is None or c.size != 1 or c.dtype.kind not in "fiu":
        return None
    return float(c.reshape(-1)[0])


def uniform(graph: Graph, tensor: str) -> float | None:
    """The value of a constant whose elements are all equal (None otherwise or when empty)."""
    c = const(graph, tensor)
    if c is None or c.size == 0 or c.dtype.kind not in "fiub":
        return None
    flat = c.reshape(-1)
    first = flat[0]
    if c.size > 1 and not np.all(flat == first):
        return None
    return float(first)


def near(value: float | None, target: float, rel: float = 1e-4) -> bool:
    return value is not None and math.isclose(value, target, rel_tol=rel, abs_tol=1e-12)


def vtype(graph: Graph, tensor: str) -> ValueType | None:
    vt = graph.type_of(tensor) if tensor else None
    return vt if vt is not None and vt.is_tensor else None


def shape(graph: Graph, tensor: str):
    vt = vtype(graph, tensor)
    return None if vt is None else vt.shape


def rank(graph: Graph, tensor: str) -> int | None:
    s = shape(graph, tensor)
    return None if s is None else len(s)


def dtype(graph: Graph, tensor: str) -> str | None:
    vt = vtype(graph, tensor)
    return None if vt is None else vt.dtype


def known_dim(d) -> bool:
    """A dim that names one value: an int, or a symbolic name (equal names are equal dims)."""
    return isinstance(d, int) or (isinstance(d, str) and bool(d))


def same_shape(a, b) -> bool:
    """Two shapes that are certainly equal (every dim known and equal)."""
    return a is not None and b is not None and len(a) == len(b) and all(
        known_dim(x) and x == y for x, y in zip(a, b))


def reshaped(graph: Graph, node: Node, s) -> tuple | None:
    """The output shape of a Reshape/Flatten/Squeeze/Unsqueeze on an input of shape ``s``,
    computed from its constants (not read from a declared type); unknown dims are None."""
    if s is None:
        return None
    s = tuple(s)
    static = all(isinstance(d, int) for d in s)
    if node.op_type == "Flatten":
        a = int(node.attrs.get("axis", 1))
        a = a + len(s) if a < 0 else a
        if not 0 <= a <= len(s):
            return None
        left, right = s[:a], s[a:]
        return (math.prod(left) if all(isinstance(d, int) for d in left) else None,
                math.prod(right) if all(isinstance(d, int) for d in right) else None)
    arg = const(graph, node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    values = None if arg is None else [int(v) for v in arg.reshape(-1)]
    if node.op_type == "Unsqueeze":
        if values is None:
            return None
        r = len(s) + len(values)
        axes = sorted(a + r if a < 0 else a for a in values)
        if len(set(axes)) != len(axes) or any(not 0 <= a < r for a in axes):
            return None
        rest = iter(s)
        return tuple(1 if i in axes else next(rest) for i in range(r))
    if node.op_type == "Squeeze":
        if values is None:
            return tuple(d for d in s if d != 1) if static else None
        axes = {a + len(s) if a < 0 else a for a in values}
        if any(not 0 <= a < len(s) or s[a] != 1 for a in axes):
            return None
        return tuple(d for i, d in enumerate(s) if i not in axes)
    if node.op_type == "Reshape" and values is not None:
        out = [s[i] if v == 0 and not node.attrs.get("allowzero", 0) and i < len(s) else v for i, v in enumerate(values)]
        if -1 in out:
            rest = [d for d in out if d != -1]
            if out.count(-1) > 1 or not static or not all(isinstance(d, int) for d in rest) or 0 in rest:
                out = [None if d == -1 else d for d in out]
            else:
                out[out.index(-1)] = math.prod(s) // max(math.prod(rest), 1)
        return tuple(out)
    return None


def readers(graph: Graph, tensor: str) -> list[Node]:
    return graph.consumers(tensor)


def private(graph: Graph, tensor: str, users: int = 1) -> bool:
    """``tensor`` is read by exactly ``users`` nodes (each once, none through a subgraph) and
    is no graph output: a rewrite that removes it is invisible."""
    if not tensor or tensor in graph.outputs:
        return False
    rs = graph.consumers(tensor)
    if len(rs) != users:
        return False
    return all(sum(1 for t in r.inputs if t == tensor) == 1 and not read_by_subgraph(r, tensor) for r in rs)


def only_reader(graph: Graph, tensor: str, *op_types: str) -> Node | None:
    """The node reading private ``tensor``, when its op type is one of ``op_types``."""
    if not private(graph, tensor):
        return None
    r = graph.consumers(tensor)[0]
    if r.op_type not in op_types or not is_default_domain(r.domain):
        return None
    return r


def read_by_subgraph(node: Node, tensor: str) -> bool:
    return any(tensor in sub.free_names() for _, sub in node.subgraphs())


def other_input(node: Node, tensor: str) -> str | None:
    """The other input of a binary node that reads ``tensor`` once."""
    if len(node.inputs) != 2 or node.inputs.count(tensor) != 1:
        return None
    return node.inputs[1] if node.inputs[0] == tensor else node.inputs[0]


def used_outputs(graph: Graph, node: Node) -> list[str]:
    return [o for o in node.outputs if o and (o in graph.outputs or graph.consumers(o))]


def plain(node: Node) -> bool:
    """A default-domain node without subgraphs."""
    return is_default_domain(node.domain) and not any(True for _ in node.subgraphs())


# ------------------------------------------------------------------ rewriting
def bypass(graph: Graph, out: str, src: str) -> bool:
    """Make every reader of ``out`` read ``src`` (same value, same type) instead; ``out``'s
    producer is then dead.  When ``out`` is a graph output, ``src``'s producer takes the name
    ``out`` instead (the graph output keeps its name and type); False when neither is possible
    (``src`` is a graph input, initializer or output, or ``out`` is read through a subgraph)."""
    if out == src:
        return False
    rs = graph.consumers(out)
    if any(read_by_subgraph(r, out) for r in rs):
        return False
    if out not in graph.outputs:
        for r in rs:
            graph.set_inputs(r, [src if t == out else t for t in r.inputs])
        return True
    producer = graph.producer(src)
    if producer is None or src in graph.outputs or src in graph.initializers or src in graph.inputs:
        return False
    src_readers = graph.consumers(src)
    if any(read_by_subgraph(r, src) for r in src_readers):
        return False
    old = graph.producer(out)
    if old is not None:
        graph.remove_node(old.name)
    for r in src_readers:
        if r.name in graph.nx:
            graph.set_inputs(r, [out if t == src else t for t in r.inputs])
    rename_output(graph, producer, src, out)
    graph.values.pop(src, None)
    return True


def rename_output(graph: Graph, node: Node, old: str, new: str) -> None:
    """Let ``node`` produce ``new`` in place of ``old`` (its readers are the caller's business);
    the node keeps its place in the source order."""
    order = graph.nx.nodes[node.name]["order"]
    graph.remove_node(node.name)
    node.outputs = [new if o == old else o for o in node.outputs]
    graph.add_node(node)
    graph.nx.nodes[node.name]["order"] = order


def replace(graph: Graph, old: list[Node], new: Node) -> Node:
    """Remove ``old`` (a matched pattern) and add ``new`` in the last one's place in the order;
    ``new`` is named after the last node (its outputs are the pattern's outputs)."""
    last = old[-1]
    order = max(graph.nx.nodes[n.name]["order"] for n in old if n.name in graph.nx)
    for n in old:
        if n.name in graph.nx:
            graph.remove_node(n.name)
    new.name = new.name or last.name
    graph.add_node(new)
    graph.nx.nodes[new.name]["order"] = order
    return new


def insert_before(graph: Graph, anchor: Node, new: Node) -> Node:
    """Add ``new`` just before ``anchor`` in the source order (ties keep the topological sort stable)."""
    graph.add_node(new)
    graph.nx.nodes[new.name]["order"] = graph.nx.nodes[anchor.name]["order"] - 0.5
    return new


def fresh(graph: Graph, base: str) -> str:
    """A tensor name used nowhere in the graph (nor among its recorded types)."""
    name, i = base, 1
    used = graph.defined_names() | set(graph.values)
    while name in used:
        name, i = f"{base}_{i}", i + 1
    return name


def add_const(graph: Graph, base: str, value: np.ndarray) -> str:
    name = fresh(graph, base)
    graph.initializers[name] = np.asarray(value)
    return name


def set_type(graph: Graph, tensor: str, dtype_: str | None, shape_) -> None:
    if dtype_ is not None:
        graph.values[tensor] = ValueType.tensor(dtype_, shape_)


# ------------------------------------------------------------------ products
@dataclass
class Product:
    """``coef * prod(t ** p for t, p in terms)``: a tree of Mul, Div, Reciprocal and integer Pow
    nodes (constant scalars folded into ``coef``), over private intermediates only."""

    coef: float = 1.0
    terms: list[tuple[str, int]] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)

    def powers(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t, p in self.terms:
            out[t] = out.get(t, 0) + p
        return {t: p for t, p in out.items() if p}


def _inverse(p: Product) -> Product:
    return Product(1.0 / p.coef if p.coef else math.inf, [(t, -e) for t, e in p.terms], p.nodes)


def product(graph: Graph, tensor: str, *, root: bool = True, depth: int = 10) -> Product:
    """Take ``tensor`` apart as a product.  The root node may have other readers (it is what a
    fusion replaces); every inner node must be private (read only by the product)."""
    n = op(graph, tensor, "Mul", "Div", "Reciprocal", "Pow")
    if n is not None and n.op_type == "Pow":
        k = scalar(graph, n.inputs[1])
        if k is None or k != int(k) or not 1 <= k <= 4:
            n = None
    if depth <= 0 or n is None or (not root and not private(graph, tensor)):
        s = scalar(graph, tensor)
        if s is not None and not root:
            return Product(s)
        return Product(1.0, [(tensor, 1)])
    if n.op_type == "Reciprocal":
        inner = product(graph, n.inputs[0], root=False, depth=depth - 1)
        out = _inverse(inner)
        out.nodes = [n] + inner.nodes
        return out
    if n.op_type == "Pow":
        k = int(scalar(graph, n.inputs[1]))
        return Product(1.0, [(n.inputs[0], k)], [n])
    left = product(graph, n.inputs[0], root=False, depth=depth - 1)
    right = product(graph, n.inputs[1], root=False, depth=depth - 1)
    if n.op_type == "Div":
        right = _inverse(right)
    return Product(left.coef * right.coef, left.terms + right.terms, [n] + left.nodes + right.nodes)


def product_root(graph: Graph, tensor: str, accept) -> tuple[Node, Product] | None:
    """The highest Mul/Div above ``tensor`` (through private Mul/Div/Reciprocal nodes, ``tensor`` private
    to the first) whose product ``accept(product)`` takes: the largest pattern wins."""
    cur = only_reader(graph, tensor, "Mul", "Div", "Reciprocal")
    best = None
    for _ in range(6):
        if cur is None:
            break
        p = product(graph, cur.outputs[0])
        if accept(p) and any(tensor in n.inputs for n in p.nodes):
            best = cur, p
        cur = only_reader(graph, cur.outputs[0], "Mul", "Div")
    return best

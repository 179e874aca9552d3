"""Indexing: embedding, index_select, gather, index (one index tensor, or leading ones),
scatter, index_put."""

from __future__ import annotations

from . import aten, unmapped
from .common import axis


@aten("embedding.default")
def embedding(c):
    return c.out("Gather", [c.x(c["weight"]), c.x(c["indices"])], axis=0)


@aten("index_select.default")
def index_select(c):
    x = c["self"]
    return c.out("Gather", [c.x(x), c.x(c["index"])], axis=axis(c["dim"], c.rank(x)))


@aten("gather.default")
def gather(c):
    x = c["self"]
    return c.out("GatherElements", [c.x(x), c.x(c["index"])], axis=axis(c["dim"], c.rank(x)))


@aten("index.Tensor", "_unsafe_index.Tensor")
def index(c):
    x = c["self"]
    idx = list(c["indices"])
    used = [i for i, t in enumerate(idx) if t is not None]
    if any(c.dtype(idx[i]) == "bool" for i in used):
        unmapped(c, "boolean mask indexing (its result size depends on the data)")
    if len(used) == 1:
        return c.out("Gather", [c.x(x), c.x(idx[used[0]])], axis=used[0])
    if used == list(range(len(used))):
        # leading index tensors: broadcast them together, stack the coordinates, GatherND
        shapes = [c.shape(idx[i]) for i in used]
        dims = _broadcast(shapes)
        if dims is None:
            unmapped(c, "index tensors whose broadcast shape is unknown")
        r = len(dims)
        parts = []
        for i, shp in zip(used, shapes):
            t = c.x(idx[i], "int64")
            if len(shp) != r or not all(_eq(a, b) for a, b in zip(shp, dims)):
                t = c.op("Expand", [t, c.shape_tensor(dims)], _type=c.vtype("int64", dims))
            parts.append(c.op("Unsqueeze", [t, c.ints([r])], _type=c.vtype("int64", [*dims, 1])))
        stacked = c.op("Concat", parts, axis=r, _type=c.vtype("int64", [*dims, len(parts)]))
        return c.out("GatherND", [c.x(x), stacked])
    unmapped(c, "advanced indexing with index tensors after a slice")


def _broadcast(shapes: list[list]) -> list | None:
    r = max(len(s) for s in shapes)
    out = []
    for k in range(r):
        col = [s[k - r + len(s)] for s in shapes if k - r + len(s) >= 0]
        big = [d for d in col if not (isinstance(d, int) and d == 1) and not (not isinstance(d, int) and d.node.expr == 1)]
        if not big:
            out.append(1)
        elif all(_eq(d, big[0]) for d in big):
            out.append(big[0])
        else:
            return None
    return out


def _eq(a, b) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return not isinstance(a, int) and not isinstance(b, int) and a.node.expr == b.node.expr


@aten("scatter.src", "scatter.value", "scatter_add.default", "scatter.reduce", "scatter.value_reduce")
def scatter(c):
    x = c["self"]
    d = axis(c["dim"], c.rank(x))
    dt = c.out_dtype()
    if "src" in c.args and c.get("src") is not None:
        updates = c.x(c["src"], dt)
    else:
        updates = c.op("Expand", [c.x(c["value"], dt), c.op("Shape", [c.x(c["index"])])])
    reduction = "add" if c.key == "aten.scatter_add.default" else {None: "none", "sum": "add", "add": "add",
                                                                      "prod": "mul", "multiply": "mul",
                                                                      "amax": "max", "amin": "min"}.get(c.get("reduce"))
    if reduction is None:
        unmapped(c, f"scatter reduction {c.get('reduce')}")
    return c.out("ScatterElements", [c.x(x, dt), c.x(c["index"]), updates], axis=d, reduction=reduction)


@aten("index_put.default", "_unsafe_index_put.default")
def index_put(c):
    x = c["self"]
    idx = list(c["indices"])
    dt = c.out_dtype()
    if len(idx) == 1 and idx[0] is not None and c.dtype(idx[0]) == "bool" and c.rank(c["values"]) == 0:
        # x[mask] = value: a Where
        return c.out("Where", [c.x(idx[0], "bool"), c.x(c["values"], dt), c.x(x, dt)])
    if len(idx) == 1 and idx[0] is not None and c.dtype(idx[0]) != "bool":
        i = c.op("Unsqueeze", [c.x(idx[0], "int64"), c.ints([c.rank(idx[0])])])
        values = c.x(c["values"], dt)
        return c.out("ScatterND", [c.x(x, dt), i, values], reduction="add" if c.get("accumulate") else "none")
    unmapped(c, "index_put with several indices")

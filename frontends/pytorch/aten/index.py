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


@aten("index.Tensor")
def index(c):
    x = c["self"]
    idx = list(c["indices"])
    used = [i for i, t in enumerate(idx) if t is not None]
    if any(c.dtype(idx[i]) == "bool" for i in used):
        unmapped(c, "boolean mask indexing (its result size depends on the data)")
    if len(used) == 1:
        return c.out("Gather", [c.x(x), c.x(idx[used[0]])], axis=used[0])
    if used == list(range(len(used))):
        shapes = [c.shape(idx[i]) for i in used]
        if all(len(s) == len(shapes[0]) and all(_eq(a, b) for a, b in zip(s, shapes[0])) for s in shapes):
            r = len(shapes[0])
            parts = [c.op("Unsqueeze", [c.x(idx[i], "int64"), c.ints([r])]) for i in used]
            stacked = c.op("Concat", parts, axis=r)
            return c.out("GatherND", [c.x(x), stacked])
    unmapped(c, "advanced indexing with several index tensors")


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

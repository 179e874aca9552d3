"""Shape ops: view/reshape/flatten (to the output's own shape, symbolic dims kept),
permute/transpose, expand, (un)squeeze, cat/stack, split/chunk/unbind, slice/narrow/select,
pad, repeat, roll, flip, and the ops that are the identity in an inference graph."""

from __future__ import annotations

from . import aten, unmapped
from .common import axes, axis, int_list

INT64_MAX = 2**63 - 1


@aten("view.default", "_unsafe_view.default", "reshape.default", "view_copy.default", "_reshape_alias.default",
      "flatten.using_ints", "unflatten.int", "reshape_as.default", "view_as.default")
def reshape(c):
    x = c.args[0]
    ins, outs = c.shape(x), c.out_shape()
    if len(ins) == len(outs) and all(_same(a, b) for a, b in zip(ins, outs)):
        return c.identity(x)
    return c.out("Reshape", [c.x(x), c.shape_tensor(outs, like=x, like_dims=ins)])


def _same(a, b) -> bool:
    if isinstance(a, int) or isinstance(b, int):
        return isinstance(a, int) and isinstance(b, int) and a == b or (
            not isinstance(a, int) and a.node.expr.is_Integer and int(a) == b) or (
            not isinstance(b, int) and b.node.expr.is_Integer and int(b) == a)
    return a.node.expr == b.node.expr


@aten("permute.default", "permute_copy.default")
def permute(c):
    x = c["self"]
    r = c.rank(x)
    perm = [axis(d, r) for d in c["dims"]]
    if perm == list(range(r)):
        return c.identity(x)
    return c.out("Transpose", [c.x(x)], perm=perm)


@aten("transpose.int", "transpose_copy.int", "swapaxes.default", "swapdims.default")
def transpose(c):
    x = c.args[0]
    r = c.rank(x)
    a, b = axis(c.args[1], r), axis(c.args[2], r)
    if a == b:
        return c.identity(x)
    perm = list(range(r))
    perm[a], perm[b] = perm[b], perm[a]
    return c.out("Transpose", [c.x(x)], perm=perm)


@aten("t.default", "numpy_T.default")
def t(c):
    x = c["self"]
    r = c.rank(x)
    if r < 2:
        return c.identity(x)
    return c.out("Transpose", [c.x(x)], perm=list(reversed(range(r))))


@aten("movedim.int")
def movedim(c):
    x = c["self"]
    r = c.rank(x)
    src, dst = axis(c["source"], r), axis(c["destination"], r)
    perm = [d for d in range(r) if d != src]
    perm.insert(dst, src)
    return c.out("Transpose", [c.x(x)], perm=perm)


@aten("expand.default", "expand_as.default", "expand_copy.default", "broadcast_to.default")
def expand(c):
    x = c.args[0]
    ins, outs = c.shape(x), c.out_shape()
    off = len(outs) - len(ins)
    # ONNX Expand broadcasts both ways: 1 keeps the input's size, so only grown dims are written
    dims = [1 if i >= off and _same(ins[i - off], outs[i]) else outs[i] for i in range(len(outs))]
    if off == 0 and all(d == 1 for d in dims if isinstance(d, int)) and all(isinstance(d, int) for d in dims):
        return c.identity(x)
    return c.out("Expand", [c.x(x), c.shape_tensor(dims)])


@aten("unsqueeze.default", "unsqueeze_copy.default")
def unsqueeze(c):
    x = c["self"]
    d = axis(c["dim"], c.rank(x) + 1)
    return c.out("Unsqueeze", [c.x(x), c.ints([d])])


@aten("squeeze.dim", "squeeze.dims", "squeeze.default", "squeeze_copy.dim", "squeeze_copy.dims")
def squeeze(c):
    x = c["self"]
    shape = c.shape(x)
    dims = axes(c.get("dim"), len(shape)) if c.key.endswith((".dim", ".dims")) else list(range(len(shape)))
    dims = [d for d in dims if isinstance(shape[d], int) and shape[d] == 1 or
            not isinstance(shape[d], int) and shape[d].node.expr == 1]
    if not dims:
        return c.identity(x)
    return c.out("Squeeze", [c.x(x), c.ints(dims)])


@aten("cat.default", "concat.default", "concatenate.default")
def cat(c):
    tensors = [t for t in c["tensors"] if not (c.rank(t) == 1 and c.shape(t) == [0])]
    dt = c.out_dtype()
    r = len(c.out_shape())
    if len(tensors) == 1:
        return c.identity(tensors[0]) if c.dtype(tensors[0]) == dt else c.out("Cast", [c.x(tensors[0])], to=_onnx(dt))
    return c.out("Concat", [c.x(t, dt) for t in tensors], axis=axis(c.get("dim", 0), r))


@aten("stack.default")
def stack(c):
    dt = c.out_dtype()
    r = len(c.out_shape())
    d = axis(c.get("dim", 0), r)
    parts = [c.op("Unsqueeze", [c.x(t, dt), c.ints([d])]) for t in c["tensors"]]
    if len(parts) == 1:
        return c.out("Identity", parts)
    return c.out("Concat", parts, axis=d)


def _split(c, x, d: int):
    sizes = [v.shape[d] for v in c.val]
    n = len(sizes)
    if n == 1:
        return [c.identity(x)]
    if c.static(sizes):
        sizes = [int(v) for v in sizes]
        if len(set(sizes)) == 1:
            return c.out("Split", [c.x(x)], n_out=n, axis=d, num_outputs=n)
        return c.out("Split", [c.x(x), c.ints(sizes, "split")], n_out=n, axis=d)
    return c.out("Split", [c.x(x), c.shape_tensor(sizes)], n_out=n, axis=d)


@aten("split.Tensor", "split_with_sizes.default", "chunk.default", "tensor_split.sections", "split_copy.Tensor",
      "split_with_sizes_copy.default", "unsafe_split.Tensor")
def split(c):
    x = c["self"]
    return _split(c, x, axis(c.get("dim", 0), c.rank(x)))


@aten("unbind.int", "unbind_copy.int")
def unbind(c):
    x = c["self"]
    d = axis(c.get("dim", 0), c.rank(x))
    n = len(c.val)
    parts = [c.x(x)] if n == 1 else c.op("Split", [c.x(x)], n_out=n, axis=d, num_outputs=n)
    if n == 1:
        parts = [parts[0]]
    out = []
    for j, p in enumerate(parts if isinstance(parts, list) else [parts]):
        name = c.op("Squeeze", [p, c.ints([d])], _type=c.t.value_type(c.val[j]))
        out.append(name)
    return out


def _int1(c, v) -> str:
    """A one-element int64 tensor for an index (int or symbolic)."""
    if isinstance(v, int):
        return c.ints([v], "index")
    return c.op("Unsqueeze", [c.x(v, "int64"), c.t.ints([0], "axes0")], _type=c.vtype("int64", [1]))


@aten("slice.Tensor", "slice_copy.Tensor")
def slice_(c):
    x = c["self"]
    shape = c.shape(x)
    d = axis(c.get("dim", 0), len(shape))
    start, end, step = c.get("start", 0), c.get("end", INT64_MAX), c.get("step", 1)
    start = c.t.env[start] if hasattr(start, "meta") and isinstance(c.t.env.get(start), int) else start
    end = c.t.env[end] if hasattr(end, "meta") and isinstance(c.t.env.get(end), int) else end
    if isinstance(end, int) and end > INT64_MAX:
        end = INT64_MAX
    if start == 0 and step == 1 and isinstance(end, int) and (
            end == INT64_MAX or isinstance(shape[d], int) and end >= shape[d]):
        return c.identity(x)
    if _same_size(end, shape[d]) and start == 0 and step == 1:
        return c.identity(x)
    return c.out("Slice", [c.x(x), _int1(c, start), _int1(c, end), c.ints([d]), c.ints([step], "steps")])


def _same_size(v, d) -> bool:
    m = getattr(v, "meta", {}).get("val") if hasattr(v, "meta") else v
    if m is None or isinstance(m, int) or isinstance(d, int):
        return False
    return hasattr(m, "node") and m.node.expr == d.node.expr


@aten("narrow.default")
def narrow(c):
    x = c["self"]
    d = axis(c["dim"], c.rank(x))
    start, length = c["start"], c["length"]
    if isinstance(start, int) and isinstance(length, int):
        end = c.ints([start + length], "end")
    else:
        end = c.op("Add", [_int1(c, start), _int1(c, length)])
    return c.out("Slice", [c.x(x), _int1(c, start), end, c.ints([d])])


@aten("select.int", "select_copy.int")
def select(c):
    x = c["self"]
    d = axis(c["dim"], c.rank(x))
    return c.out("Gather", [c.x(x), c.x(c["index"], "int64")], axis=d)


@aten("pad.default", "constant_pad_nd.default", "reflection_pad1d.default", "reflection_pad2d.default",
      "replication_pad1d.default", "replication_pad2d.default", "replication_pad3d.default",
      "reflection_pad3d.default")
def pad(c):
    x = c["self"] if "self" in c.args else c["input"]
    r = c.rank(x)
    p = [int(v) for v in (c["pad"] if "pad" in c.args else c["padding"])]
    mode = c.get("mode", "constant")
    if "reflection" in c.key:
        mode = "reflect"
    elif "replication" in c.key:
        mode = "replicate"
    begins, ends = [0] * r, [0] * r
    for k in range(len(p) // 2):
        begins[r - 1 - k], ends[r - 1 - k] = p[2 * k], p[2 * k + 1]
    if not any(begins) and not any(ends):
        return c.identity(x)
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if onnx_mode is None:
        unmapped(c, f"padding mode {mode}")
    inputs = [c.x(x), c.ints(begins + ends, "pads")]
    value = c.get("value")
    if onnx_mode == "constant" and value:
        inputs.append(c.x(float(value) if c.out_dtype().startswith(("float", "bfloat")) else int(value), c.out_dtype()))
    return c.out("Pad", inputs, mode=onnx_mode)


@aten("repeat.default")
def repeat(c):
    x = c["self"]
    reps = int_list(c["repeats"])
    r = c.rank(x)
    src = c.x(x)
    if len(reps) > r:
        src = c.op("Unsqueeze", [src, c.ints(list(range(len(reps) - r)))])
    if not all(isinstance(v, int) for v in reps):
        return c.out("Tile", [src, c.shape_tensor([c.meta(v) if hasattr(v, "meta") else v for v in reps])])
    return c.out("Tile", [src, c.ints(reps, "repeats")])


@aten("roll.default")
def roll(c):
    x = c["self"]
    shape = c.shape(x)
    shifts, dims = int_list(c["shifts"]), int_list(c.get("dims"))
    if not dims or not all(isinstance(s, int) for s in shifts):
        unmapped(c, "roll over a flattened tensor or by a dynamic shift")
    cur = c.x(x)
    for k, (s, d) in enumerate(zip(shifts, dims)):
        d = axis(d, len(shape))
        n = shape[d]
        if not isinstance(n, int):
            unmapped(c, "roll along a dynamic dim")
        s %= n
        if not s:
            continue
        tail = c.op("Slice", [cur, c.ints([n - s], "start"), c.ints([n], "end"), c.ints([d])])
        head = c.op("Slice", [cur, c.ints([0], "start"), c.ints([n - s], "end"), c.ints([d])])
        last = k == len(dims) - 1
        cur = (c.out if last else c.op)("Concat", [tail, head], axis=d)
    return cur if cur != c.x(x) else c.identity(x)


@aten("flip.default")
def flip(c):
    x = c["self"]
    dims = axes(c["dims"], c.rank(x))
    n = len(dims)
    return c.out("Slice", [c.x(x), c.ints([-1] * n, "start"), c.ints([-INT64_MAX - 1] * n, "end"), c.ints(dims),
                           c.ints([-1] * n, "steps")])


@aten("contiguous.default", "clone.default", "alias.default", "detach.default", "detach_.default",
      "lift_fresh_copy.default", "lift_fresh.default", "dropout.default", "feature_dropout.default",
      "alpha_dropout.default", "feature_alpha_dropout.default", "alias_copy.default", "detach_copy.default",
      "positive.default",
      "resolve_conj.default", "resolve_neg.default")
def identity(c):
    return c.identity(c.args[0])


@aten("native_dropout.default")
def native_dropout(c):
    if c.get("train"):
        unmapped(c, "dropout in training mode (call .eval() first)")
    return [c.identity(c["input"]), None]


@aten("operator.getitem")
def getitem(c):
    seq, i = c.args[0], c.args[1]
    value = c.t.env[seq]
    item = value[i]
    if item is None:
        unmapped(c, "an unused result")
    if c.out_name and item != c.out_name:
        return c.out("Identity", [item])
    return item


def _onnx(dtype: str) -> int:
    from mmconvert.ir import dtypes

    return dtypes.to_onnx(dtype)

"""Shape and indexing ops: Reshape, Transpose, (Un)Squeeze, Concat, Split, Slice, Expand,
Tile, Pad, Gather*, Scatter*, Shape, Size, DepthToSpace, SpaceToDepth, Trilu, ...

Shape values of symbolic dims stay Python ints/lists (``x.shape[0]``) through the
usual shape arithmetic so that ``torch.export`` keeps them symbolic.
"""

from __future__ import annotations

import numpy as np

from mmconvert.backends.codegen.onnx_args import pad_args, static_expand
from ..dialect import NodeCtx, lit, torch_dtype
from ..registry import register


def norm_axis(axis: int, rank: int | None) -> int:
    if axis < 0 and rank is not None:
        return axis + rank
    return axis


@register("Shape")
def shape(c: NodeCtx) -> None:
    start, end = c.attr("start", 0), c.attr("end", None)
    x = c.x(0)
    sl = ""
    if start or end is not None:
        sl = f"[{start or ''}:{'' if end is None else end}]"
    c.out(f"list({x}.shape{sl})", kind="list")


@register("Size")
def size(c: NodeCtx) -> None:
    c.out(f"{c.x(0)}.numel()", kind="int")


@register("Reshape")
def reshape(c: NodeCtx) -> None:
    x = c.x(0)
    allowzero = int(c.attr("allowzero", 0))
    target = c.int_list(1)
    if target is not None:
        if not allowzero and 0 in target:
            xs = c.shape(0)
            dims = []
            for i, d in enumerate(target):
                if d == 0:
                    dims.append(str(xs[i]) if xs is not None and isinstance(xs[i], int) else f"{x}.shape[{i}]")
                else:
                    dims.append(str(d))
            c.out(f"{x}.reshape({', '.join(dims)}{',' if len(dims) == 1 else ''})" if dims else f"{x}.reshape(())")
            return
        if not target:
            c.out(f"{x}.reshape(())")
            return
        c.out(f"{x}.reshape({', '.join(map(str, target))})")
        return
    v = c.val(1)
    if v.kind == "list" or allowzero:
        c.out(f"{x}.reshape({c.ints(1)})")
    else:
        h = c.helper("reshape_onnx")
        c.out(f"{h}({x}, {c.ints(1)})")


@register("Flatten")
def flatten(c: NodeCtx) -> None:
    x = c.x(0)
    r = c.rank(0)
    axis = norm_axis(int(c.attr("axis", 1)), r)
    xs = c.shape(0)
    if xs is not None and all(isinstance(d, int) for d in xs):
        c.out(f"{x}.reshape({int(np.prod(xs[:axis]))}, {int(np.prod(xs[axis:]))})")
        return
    if xs is not None and all(isinstance(d, int) for d in xs[:axis]):
        c.out(f"{x}.reshape({int(np.prod(xs[:axis]))}, -1)")
        return
    if axis == 0:
        c.out(f"{x}.reshape(1, -1)")
    elif r is not None and axis == r:
        c.out(f"{x}.reshape(-1, 1)")
    else:
        c.out(f"torch.flatten(torch.flatten({x}, {axis}), 0, {axis - 1})" if axis > 1 else f"torch.flatten({x}, 1)")


@register("Transpose")
def transpose(c: NodeCtx) -> None:
    perm = c.attr("perm")
    x = c.x(0)
    if perm is None:
        r = c.rank(0)
        if r is None:
            c.out(f"{x}.permute(*reversed(range({x}.dim())))")
            return
        perm = list(reversed(range(r)))
    perm = list(perm)
    if len(perm) == 2 and perm == [1, 0]:
        c.out(f"{x}.t()")
    elif len(perm) >= 2 and perm[:-2] == list(range(len(perm) - 2)) and perm[-2:] == [len(perm) - 1, len(perm) - 2]:
        c.out(f"{x}.transpose(-2, -1)")
    else:
        c.out(f"{x}.permute({', '.join(map(str, perm))})")


@register("Squeeze")
def squeeze(c: NodeCtx) -> None:
    v = c.val(0)
    axes = c.int_list(1) if c.has(1) else None
    if v.kind == "list":
        c.out(f"{v.expr}[0]", kind="int")
        return
    if v.kind == "int":
        c.alias(0, 0)
        return
    x = c.x(0)
    if not c.has(1):
        c.out(f"{x}.squeeze()")
    elif axes is None:
        c.out(f"{x}.squeeze(tuple({c.ints(1)}))")
    elif len(axes) == 1:
        c.out(f"{x}.squeeze({axes[0]})")
    else:
        c.out(f"{x}.squeeze({tuple(axes)})")


@register("Unsqueeze")
def unsqueeze(c: NodeCtx) -> None:
    axes = c.int_list(1)
    v = c.val(0)
    if v.kind == "int" and axes in ([0], [-1]):
        c.out(f"[{v.expr}]", kind="list")
        return
    x = c.x(0)
    if axes is None:
        h = c.helper("unsqueeze_onnx")
        c.out(f"{h}({x}, {c.ints(1)})")
        return
    r = c.rank(0)
    if len(axes) == 1:
        c.out(f"{x}.unsqueeze({axes[0]})")
        return
    if r is None:
        h = c.helper("unsqueeze_onnx")
        c.out(f"{h}({x}, {axes})")
        return
    out_rank = r + len(axes)
    axes = sorted(a + out_rank if a < 0 else a for a in axes)
    if axes == list(range(len(axes))):
        c.out(f"{x}[{', '.join(['None'] * len(axes))}]")
        return
    c.out(x + "".join(f".unsqueeze({a})" for a in axes))


@register("Concat")
def concat(c: NodeCtx) -> None:
    axis = int(c.attr("axis"))
    idx = [i for i in range(c.n_in) if c.has(i)]
    kinds = [c.val(i).kind for i in idx]
    if any(k in ("list", "int") for k in kinds) and all(c.is_shape_value(i) for i in idx) \
            and all(c.val(i).kind != "tensor" or c.const(i).ndim == 1 for i in idx):
        parts = []
        for i in idx:
            v = c.val(i)
            if v.kind == "list":
                parts.append(f"*{v.expr}")
            elif v.kind == "int":
                parts.append(v.expr)
            else:
                parts += [str(int(a)) for a in v.const.reshape(-1)]
        c.out(f"[{', '.join(parts)}]", kind="list")
        return
    xs = [c.x(i) for i in idx]
    if len(xs) == 1:
        c.out(f"{xs[0]}.clone()")
        return
    c.out(f"torch.cat([{', '.join(xs)}], dim={axis})")


@register("Split")
def split(c: NodeCtx) -> None:
    axis = int(c.attr("axis", 0))
    x = c.x(0)
    n = len(c.node.outputs)
    if c.has(1):
        sizes = c.int_list(1)
        sz = lit(sizes) if sizes is not None else c.ints(1)
    else:
        xs = c.shape(0)
        k = int(c.attr("num_outputs", n))
        if xs is not None and isinstance(xs[axis], int):
            d = xs[axis]
            chunk = -(-d // k)
            sizes = [min(chunk, d - i * chunk) for i in range(k)]
            sz = lit(sizes) if sizes and sizes[-1] != chunk else str(chunk)
        else:
            sz = f"-(-{x}.shape[{axis}] // {k})"
    c.outs(f"torch.split({x}, {sz}, dim={axis})")


@register("Slice")
def slice_(c: NodeCtx) -> None:
    v = c.val(0)
    starts, ends = c.int_list(1), c.int_list(2)
    axes = c.int_list(3) if c.has(3) else None
    steps = c.int_list(4) if c.has(4) else None
    static = starts is not None and ends is not None and (not c.has(3) or axes is not None) \
        and (not c.has(4) or steps is not None)
    if static:
        axes = axes if axes is not None else list(range(len(starts)))
        steps = steps if steps is not None else [1] * len(starts)
        if all(s > 0 for s in steps):
            def bound(b):
                return "" if b >= 2**62 or b <= -2**62 and False else str(b)
            if v.kind == "list" and axes in ([0], [-1]):
                st = steps[0]
                c.out(f"{v.expr}[{bound(starts[0])}:{bound(ends[0])}{'' if st == 1 else ':' + str(st)}]", kind="list")
                return
            r = c.rank(0)
            if r is None and any(a < 0 for a in axes):
                pass
            else:
                x = c.x(0)
                items = [":"] * (r if r is not None else max(axes) + 1)
                for s, e, a, st in zip(starts, ends, axes, steps):
                    a = a + r if a < 0 else a
                    s_ = "" if s == 0 or s <= -2**62 else str(s)
                    e_ = "" if e >= 2**62 else str(e)
                    items[a] = f"{s_}:{e_}" + ("" if st == 1 else f":{st}")
                while items and items[-1] == ":":
                    items.pop()
                c.out(f"{x}[{', '.join(items)}]" if items else f"{x}[:]")
                return
    h = c.helper("slice_onnx")
    ax = c.ints(3) if c.has(3) else "None"
    stp = c.ints(4) if c.has(4) else "None"
    c.out(f"{h}({c.x(0)}, {c.ints(1)}, {c.ints(2)}, {ax}, {stp})")


@register("Expand")
def expand(c: NodeCtx) -> None:
    x = c.x(0)
    known = static_expand(c)
    if known is not None:
        xs, out = known
        c.out(f"{x}.clone()" if xs == out else f"{x}.expand({', '.join(map(str, out))})")
        return
    c.out(f"{x}.expand(torch.broadcast_shapes({x}.shape, {c.ints(1)}))")


@register("Tile")
def tile(c: NodeCtx) -> None:
    c.out(f"{c.x(0)}.repeat({c.ints(1)})")


@register("Pad")
def pad(c: NodeCtx) -> None:
    a = pad_args(c)
    x = c.x(0)
    value = "0"
    if c.has(2):
        value = lit(a.value) if a.value is not None else f"{c.x(2)}.item()"
    if not a.static:
        h = c.helper("pad_onnx")
        ax = c.ints(3) if c.has(3) else "None"
        c.out(f"{h}({x}, {c.ints(1)}, {value}, {a.mode!r}, {ax})")
        return
    tp: list[int] = []
    for begin, end in reversed(a.pairs):
        tp += [begin, end]
    while len(tp) > 2 and tp[-1] == 0 and tp[-2] == 0:
        tp = tp[:-2]
    if a.mode == "constant":
        c.out(f"F.pad({x}, {tp}" + (f", value={value})" if value not in ("0", "0.0") else ")"))
        return
    tmode = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}[a.mode]
    n_sp = len(tp) // 2
    r = len(a.pairs)
    if n_sp <= 3 and r - n_sp >= 1 and r <= 5:
        c.out(f"F.pad({x}, {tp}, mode={tmode!r})")
        return
    h = c.helper("pad_onnx")
    c.out(f"{h}({x}, {a.pads}, 0, {a.mode!r}, {a.axes})")


@register("Gather")
def gather(c: NodeCtx) -> None:
    axis = int(c.attr("axis", 0))
    v = c.val(0)
    idx = c.const(1)
    if v.kind == "list" and idx is not None:
        if idx.ndim == 0:
            c.out(f"{v.expr}[{int(idx)}]", kind="int")
        else:
            c.out(f"[{', '.join(f'{v.expr}[{int(i)}]' for i in idx.reshape(-1))}]", kind="list")
        return
    data = c.const(0)
    r = c.rank(0)
    # a source's own table: an nn.Embedding when its name makes the module's (``*.weight``)
    source_table = c.cg.is_source_state(c.node.inputs[0]) and c.node.inputs[0].endswith(".weight") and \
        (idx is None or (idx >= 0).all())
    if data is not None and data.ndim == 2 and axis == 0 and data.dtype.kind == "f" and \
            (idx is None and data.size > 64 or source_table):
        base = c.node.inputs[0]
        for suffix in (".weight", "_weight"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        mod = c.module(f"nn.Embedding({data.shape[0]}, {data.shape[1]}"
                       + ("" if data.dtype == np.float32 else f", dtype={torch_dtype(str(data.dtype))}") + ")",
                       {"weight": data}, base=base)
        c.out(f"{mod}({c.x(1)})")
        return
    x = c.x(0)
    axis = norm_axis(axis, r)
    if idx is not None and idx.ndim == 0 and axis >= 0:
        c.out(f"{x}.select({axis}, {int(idx)})")
        return
    if idx is not None and idx.ndim == 1 and idx.size <= 16 and axis >= 0:
        pre = ":, " * axis
        c.out(f"{x}[{pre}{lit(idx.tolist())}]")
        return
    if idx is not None and (idx >= 0).all():
        if axis >= 0 and idx.ndim == 1:
            c.out(f"{x}.index_select({axis}, {c.x(1)})")
            return
    h = c.helper("gather_onnx")
    c.out(f"{h}({x}, {c.x(1)}, {axis})")


def _fix_index(c: NodeCtx, i: int, data: str, axis: int) -> str:
    idx = c.const(i)
    if idx is not None and (idx >= 0).all():
        return c.x(i)
    e = c.x(i)
    return f"torch.where({e} < 0, {e} + {data}.shape[{axis}], {e})"


@register("GatherElements", since=11)
def gather_elements(c: NodeCtx) -> None:
    axis = int(c.attr("axis", 0))
    x = c.x(0)
    c.out(f"torch.gather({x}, {axis}, {_fix_index(c, 1, x, axis)}.long())")


@register("GatherND", since=11)
def gather_nd(c: NodeCtx) -> None:
    h = c.helper("gather_nd_onnx")
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {int(c.attr('batch_dims', 0))})")


_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


@register("ScatterElements", since=11)
def scatter_elements(c: NodeCtx) -> None:
    axis = int(c.attr("axis", 0))
    x = c.x(0)
    red = c.attr("reduction", "none")
    idx = _fix_index(c, 1, x, axis) + ".long()"
    if red == "none":
        c.out(f"{x}.scatter({axis}, {idx}, {c.x(2)})")
    else:
        c.out(f"{x}.scatter_reduce({axis}, {idx}, {c.x(2)}, {_REDUCE[red]!r})")


@register("ScatterND", since=11)
def scatter_nd(c: NodeCtx) -> None:
    h = c.helper("scatter_nd_onnx")
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {c.x(2)}, {c.attr('reduction', 'none')!r})")


@register("DepthToSpace")
def depth_to_space(c: NodeCtx) -> None:
    b = int(c.attr("blocksize"))
    if c.attr("mode", "DCR") == "CRD":
        c.out(f"F.pixel_shuffle({c.x(0)}, {b})")
        return
    h = c.helper("depth_to_space_dcr")
    c.out(f"{h}({c.x(0)}, {b})")


@register("SpaceToDepth")
def space_to_depth(c: NodeCtx) -> None:
    if c.attr("mode", "DCR") == "CRD":
        c.out(f"F.pixel_unshuffle({c.x(0)}, {int(c.attr('blocksize'))})")
        return
    h = c.helper("space_to_depth")
    c.out(f"{h}({c.x(0)}, {int(c.attr('blocksize'))})")


@register("Trilu", since=14)
def trilu(c: NodeCtx) -> None:
    k = "0"
    if c.has(1):
        s = c.scalar(1)
        k = lit(s) if s is not None else f"{c.x(1)}.item()"
    fn = "torch.triu" if int(c.attr("upper", 1)) else "torch.tril"
    c.out(f"{fn}({c.x(0)}, {k})")


@register("Compress", since=9)
def compress(c: NodeCtx) -> None:
    axis = c.attr("axis")
    x, cond = c.x(0), c.x(1)
    if axis is None:
        c.out(f"{x}.reshape(-1)[torch.nonzero({cond}).reshape(-1)]")
    else:
        c.out(f"{x}.index_select({int(axis)}, torch.nonzero({cond}).reshape(-1))")


@register("NonZero", since=9)
def nonzero(c: NodeCtx) -> None:
    x = c.x(0)
    c.out(f"torch.nonzero({x}).t()" if c.rank(0) != 0 else f"torch.nonzero({x}.reshape(1)).t()[:0]")


@register("ReverseSequence", since=10)
def reverse_sequence(c: NodeCtx) -> None:
    h = c.helper("reverse_sequence")
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {int(c.attr('batch_axis', 1))}, {int(c.attr('time_axis', 0))})")


@register("CenterCropPad", since=18)
def center_crop_pad(c: NodeCtx) -> None:
    h = c.helper("center_crop_pad")
    axes = c.attr("axes")
    c.out(f"{h}({c.x(0)}, {c.ints(1)}, {list(axes) if axes is not None else 'None'})")



"""Shape and indexing ops: Shape, Size, Reshape, Flatten, Transpose, (Un)Squeeze, Concat,
Split, Slice, Expand, Tile, Pad, Gather*, Scatter*, DepthToSpace, SpaceToDepth, Trilu ...

Inside a ``tf.function`` a dynamic dim has no Python value, so shapes are int64 tensors
(``tf.shape(x, out_type=tf.int64)``); the core folds every shape known at conversion time.
ONNX semantics kept here: ``Reshape``'s 0 copies a dim, negative ``Gather`` indices count
from the end, ``Slice`` clamps, ``Expand`` broadcasts both ways, ``Pad`` edge/wrap modes.
"""

from __future__ import annotations

import numpy as np

from mmconvert.backends.codegen.onnx_args import pad_args, static_expand
from ..registry import register
from .common import NodeCtx, lit, norm_axis, static_shape


@register("Shape")
def shape(c: NodeCtx) -> None:
    start, end = c.attr("start", 0), c.attr("end", None)
    sl = f"[{start or ''}:{'' if end is None else end}]" if start or end is not None else ""
    c.out(f"tf.shape({c.x(0)}, out_type=tf.int64){sl}")


@register("Size")
def size(c: NodeCtx) -> None:
    c.out(f"tf.size({c.x(0)}, out_type=tf.int64)")


@register("Reshape")
def reshape(c: NodeCtx) -> None:
    x = c.x(0)
    allowzero = int(c.attr("allowzero", 0))
    target = c.int_list(1)
    if target is None:
        if allowzero:
            c.out(f"tf.reshape({x}, {c.x(1)})")
        else:
            c.out(f"{c.helper('reshape_onnx')}({x}, {c.x(1)})")
        return
    if not allowzero and 0 in target:
        xs = static_shape(c, 0)
        if xs is None or any(d == 0 and (i >= len(xs) or xs[i] is None) for i, d in enumerate(target)):
            c.out(f"{c.helper('reshape_onnx')}({x}, {lit(target)})")
            return
        target = [xs[i] if d == 0 else d for i, d in enumerate(target)]
    c.out(f"tf.reshape({x}, {lit(target)})")


@register("Flatten")
def flatten(c: NodeCtx) -> None:
    x = c.x(0)
    r = c.rank(0)
    axis = norm_axis(int(c.attr("axis", 1)), r)
    xs = static_shape(c, 0)
    if xs is not None and all(d is not None for d in xs[:axis]):
        c.out(f"tf.reshape({x}, [{int(np.prod(xs[:axis], dtype=np.int64))}, -1])")
    elif xs is not None and all(d is not None for d in xs[axis:]):
        c.out(f"tf.reshape({x}, [-1, {int(np.prod(xs[axis:], dtype=np.int64))}])")
    else:
        s = f"tf.shape({x}, out_type=tf.int64)"
        c.out(f"tf.reshape({x}, tf.stack([tf.math.reduce_prod({s}[:{axis}]), tf.math.reduce_prod({s}[{axis}:])]))")


@register("Transpose")
def transpose(c: NodeCtx) -> None:
    perm = c.attr("perm")
    c.out(f"tf.transpose({c.x(0)}, {lit(list(perm))})" if perm is not None else f"tf.transpose({c.x(0)})")


@register("Squeeze")
def squeeze(c: NodeCtx) -> None:
    x = c.x(0)
    if not c.has(1):
        c.out(f"tf.squeeze({x})")
        return
    axes = c.int_list(1)
    if axes is None:
        c.out(f"{c.helper('squeeze_onnx')}({x}, {c.x(1)})")
    else:
        c.out(f"tf.squeeze({x}, {lit(axes[0]) if len(axes) == 1 else lit(axes)})")


@register("Unsqueeze")
def unsqueeze(c: NodeCtx) -> None:
    x = c.x(0)
    axes = c.int_list(1)
    r = c.rank(0)
    if axes is None or (r is None and len(axes) > 1):
        c.out(f"{c.helper('unsqueeze_onnx')}({x}, {c.ints(1) if axes is not None else c.x(1)})")
        return
    if len(axes) == 1:
        c.out(f"tf.expand_dims({x}, {axes[0]})")
        return
    out_rank = r + len(axes)
    expr = x
    for a in sorted(a + out_rank if a < 0 else a for a in axes):
        expr = f"tf.expand_dims({expr}, {a})"
    c.out(expr)


@register("Concat")
def concat(c: NodeCtx) -> None:
    xs = [c.x(i) for i in range(c.n_in) if c.has(i)]
    axis = int(c.attr("axis"))
    c.out(f"tf.concat([{', '.join(xs)}], {axis})" if len(xs) > 1 else f"tf.identity({xs[0]})")


@register("Split")
def split(c: NodeCtx) -> None:
    axis = int(c.attr("axis", 0))
    x = c.x(0)
    n = len(c.node.outputs)
    if c.has(1):
        sizes = c.int_list(1)
        c.outs(f"tf.split({x}, {lit(sizes) if sizes is not None else c.x(1)}, axis={axis})")
        return
    k = int(c.attr("num_outputs", n))
    xs = static_shape(c, 0)
    d = xs[axis] if xs is not None and -len(xs) <= axis < len(xs) else None
    if d is not None:
        chunk = -(-d // k)
        sizes = [max(0, min(chunk, d - i * chunk)) for i in range(k)]
        c.outs(f"tf.split({x}, {lit(sizes) if len(set(sizes)) > 1 else k}, axis={axis})")
    else:
        c.outs(f"{c.helper('split_even')}({x}, {k}, {axis})")


_BIG = 2 ** 62


@register("Slice")
def slice_(c: NodeCtx) -> None:
    starts, ends = c.int_list(1), c.int_list(2)
    axes = c.int_list(3) if c.has(3) else None
    steps = c.int_list(4) if c.has(4) else None
    r = c.rank(0)
    static = starts is not None and ends is not None and (not c.has(3) or axes is not None) \
        and (not c.has(4) or steps is not None)
    if static:
        axes = axes if axes is not None else list(range(len(starts)))
        steps = steps if steps is not None else [1] * len(starts)
        if r is not None or all(a >= 0 for a in axes):
            items = [":"] * (r if r is not None else max(axes) + 1)
            for s, e, a, st in zip(starts, ends, axes, steps):
                a = norm_axis(a, r)
                s_ = "" if (st > 0 and s <= -_BIG) or (st < 0 and s >= _BIG) or (s == 0 and st > 0) else str(s)
                e_ = "" if (st > 0 and e >= _BIG) or (st < 0 and e <= -_BIG) else str(e)
                items[a] = f"{s_}:{e_}" + ("" if st == 1 else f":{st}")
            while items and items[-1] == ":":
                items.pop()
            c.out(f"{c.x(0)}[{', '.join(items)}]" if items else f"tf.identity({c.x(0)})")
            return
    args = [c.x(0), c.x(1), c.x(2), c.x(3) if c.has(3) else "None", c.x(4) if c.has(4) else "None"]
    c.out(f"{c.helper('slice_onnx')}({', '.join(args)})")


@register("Expand")
def expand(c: NodeCtx) -> None:
    x = c.x(0)
    known = static_expand(c)
    if known is not None:
        xs, out = known
        c.out(f"tf.identity({x})" if out == xs else f"tf.broadcast_to({x}, {lit(out)})")
        return
    c.out(f"tf.broadcast_to({x}, tf.broadcast_dynamic_shape(tf.shape({x}, out_type=tf.int64), {c.x(1)}))")


@register("Tile")
def tile(c: NodeCtx) -> None:
    c.out(f"tf.tile({c.x(0)}, {c.x(1)})")


@register("Pad")
def pad(c: NodeCtx) -> None:
    a = pad_args(c)
    x = c.x(0)
    value = "0"
    if c.has(2) and a.mode == "constant":
        value = lit(a.value) if a.value is not None else c.x(2)
    if not a.static:
        ax = c.x(3) if c.has(3) else "None"
        c.out(f"{c.helper('pad_onnx')}({x}, {c.x(1)}, {value}, {a.mode!r}, {ax})")
        return
    pairs = a.pairs
    if any(p < 0 for pair in pairs for p in pair) or a.mode in ("edge", "wrap"):
        c.out(f"{c.helper('pad_onnx')}({x}, {lit([p[0] for p in pairs] + [p[1] for p in pairs])}, {value}, {a.mode!r})")
        return
    if a.mode == "reflect":
        c.out(f"tf.pad({x}, {lit(pairs)}, mode='REFLECT')")
    elif value in ("0", "0.0", "False"):
        c.out(f"tf.pad({x}, {lit(pairs)})")
    else:
        c.out(f"tf.pad({x}, {lit(pairs)}, constant_values={value})")


def _wrapped(c: NodeCtx, i: int, data: int, axis: int) -> str:
    """Indices input ``i`` with negative values counted from the end of ``axis`` of ``data``."""
    idx = c.const(i)
    if idx is not None:
        if (idx >= 0).all():
            return c.x(i)
        xs = static_shape(c, data)
        if xs is not None and xs[axis] is not None:
            fixed = np.where(idx < 0, idx + xs[axis], idx).astype(idx.dtype)
            return c.buffer(fixed, c.node.inputs[i])
    e = c.x(i)
    xs = static_shape(c, data)
    n = str(xs[axis]) if xs is not None and -len(xs) <= axis < len(xs) and xs[axis] is not None \
        else f"tf.shape({c.x(data)}, out_type={e}.dtype)[{axis}]"
    return f"tf.where({e} < 0, {e} + {n}, {e})"


@register("Gather")
def gather(c: NodeCtx) -> None:
    axis = norm_axis(int(c.attr("axis", 0)), c.rank(0))
    x = c.x(0)
    idx = c.const(1)
    if idx is not None and idx.ndim == 0 and axis >= 0 and c.rank(0) is not None:
        i = int(idx)
        c.out(f"{x}[{':, ' * axis}{i}]")
        return
    c.out(f"tf.gather({x}, {_wrapped(c, 1, 0, axis)}, axis={axis})" if axis else
          f"tf.gather({x}, {_wrapped(c, 1, 0, axis)})")


@register("GatherElements", since=11)
def gather_elements(c: NodeCtx) -> None:
    axis = norm_axis(int(c.attr("axis", 0)), c.rank(0))
    c.out(f"tf.experimental.numpy.take_along_axis({c.x(0)}, {_wrapped(c, 1, 0, axis)}, axis={axis})")


@register("GatherND", since=11)
def gather_nd(c: NodeCtx) -> None:
    c.out(f"{c.helper('gather_nd_onnx')}({c.x(0)}, {c.x(1)}, {int(c.attr('batch_dims', 0))})")


@register("ScatterElements", since=11)
def scatter_elements(c: NodeCtx) -> None:
    axis = norm_axis(int(c.attr("axis", 0)), c.need_rank(0))
    c.out(f"{c.helper('scatter_elements_onnx')}({c.x(0)}, {_wrapped(c, 1, 0, axis)}, {c.x(2)}, {axis}, "
          f"{c.attr('reduction', 'none')!r})")


@register("ScatterND", since=11)
def scatter_nd(c: NodeCtx) -> None:
    c.out(f"{c.helper('scatter_nd_onnx')}({c.x(0)}, {c.x(1)}, {c.x(2)}, {c.attr('reduction', 'none')!r})")


@register("DepthToSpace")
def depth_to_space(c: NodeCtx) -> None:
    b, mode = int(c.attr("blocksize")), c.attr("mode", "DCR")
    c.out(f"{c.helper('depth_to_space_nchw')}({c.x(0)}, {b}, {mode!r})")


@register("SpaceToDepth")
def space_to_depth(c: NodeCtx) -> None:
    c.out(f"{c.helper('space_to_depth_nchw')}({c.x(0)}, {int(c.attr('blocksize'))}, {c.attr('mode', 'DCR')!r})")


@register("Trilu", since=14)
def trilu(c: NodeCtx) -> None:
    k = c.x(1) if c.has(1) else "0"
    c.out(f"{c.helper('trilu')}({c.x(0)}, {k}, {bool(int(c.attr('upper', 1)))})")


@register("Compress", since=9)
def compress(c: NodeCtx) -> None:
    axis = c.attr("axis")
    x, cond = c.x(0), c.x(1)
    keep = f"tf.where({cond})[:, 0]"
    if axis is None:
        c.out(f"tf.gather(tf.reshape({x}, [-1]), {keep})")
    else:
        c.out(f"tf.gather({x}, {keep}, axis={int(axis)})")


@register("NonZero", since=9)
def nonzero(c: NodeCtx) -> None:
    x = c.x(0)
    c.out(f"tf.transpose(tf.where(tf.cast({x}, tf.bool)))" if c.rank(0) != 0 else
          f"tf.zeros([0, tf.size(tf.where(tf.cast({x}, tf.bool)))], tf.int64)")


@register("ReverseSequence", since=10)
def reverse_sequence(c: NodeCtx) -> None:
    c.out(f"tf.reverse_sequence({c.x(0)}, {c.x(1)}, seq_axis={int(c.attr('time_axis', 0))}, "
          f"batch_axis={int(c.attr('batch_axis', 1))})")



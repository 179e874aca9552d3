"""Helper functions that emitted TensorFlow ``model.py`` files may call.

An op whose ONNX semantics have no one-line TensorFlow spelling (ONNX Reshape's 0,
pooling with ceil_mode, Resize's coordinate modes, the recurrent ops ...) is emitted as a
call to one of these; the core copies the source of each helper a model uses (and of the
helpers that one calls, see ``DEPENDS``) into its ``model.py``, so the artifact never
imports mmconvert.  Every helper is plain TensorFlow that a ``tf.function`` traces, that
a SavedModel keeps and that the TFLite converter takes; Python-level decisions read only
what is static at trace time (ranks, dtypes, attributes).
"""

from __future__ import annotations

import math  # noqa: F401 - emitted helpers may use it

import numpy as np  # noqa: F401 - emitted helpers may use it
import tensorflow as tf

DEPENDS: dict[str, tuple[str, ...]] = {
    "scatter_elements_onnx": ("scatter_nd_onnx",),
    "qlinear_matmul": ("matmul_onnx",),
    "max_pool_cl": ("pool_pads", "pad_cl", "pool_windows_cl"),
    "avg_pool_cl": ("pool_pads", "pad_cl", "pool_windows_cl"),
    "lp_pool_cl": ("pool_pads", "pad_cl", "pool_windows_cl"),
    "pad_same_cl": ("pool_pads", "pad_cl"),
    "resize_onnx": ("resize_axis",),
    "recurrent_onnx": ("rnn_activation",),
}


# ----------------------------------------------------------------- shapes and indexing
def reshape_onnx(x, shape):
    """ONNX Reshape: a 0 in ``shape`` copies the input's dim at that position."""
    shape = tf.cast(shape, tf.int64)
    n = tf.size(shape)
    dims = tf.shape(x, out_type=tf.int64)
    dims = tf.concat([dims, tf.zeros([tf.maximum(n - tf.size(dims), 0)], tf.int64)], 0)[:n]
    return tf.reshape(x, tf.where(tf.equal(shape, 0), dims, shape))


def squeeze_onnx(x, axes):
    """Squeeze with axes known only at run time."""
    rank = tf.rank(x)
    axes = tf.cast(tf.reshape(axes, [-1]), tf.int32)
    axes = tf.where(axes < 0, axes + rank, axes)
    keep = tf.reduce_all(tf.not_equal(tf.range(rank)[:, None], axes[None, :]), axis=1)
    return tf.reshape(x, tf.boolean_mask(tf.shape(x), keep))


def unsqueeze_onnx(x, axes):
    """Unsqueeze with axes known only at run time (or several negative axes of an unknown rank)."""
    axes = tf.cast(tf.reshape(axes, [-1]), tf.int32)
    out_rank = tf.rank(x) + tf.size(axes)
    axes = tf.where(axes < 0, axes + out_rank, axes)
    is_new = tf.reduce_any(tf.equal(tf.range(out_rank)[:, None], axes[None, :]), axis=1)
    src = tf.maximum(tf.cumsum(tf.cast(tf.logical_not(is_new), tf.int32)) - 1, 0)
    dims = tf.where(is_new, 1, tf.gather(tf.concat([tf.shape(x), [1]], 0), src))
    return tf.reshape(x, dims)


def split_even(x, k, axis):
    """ONNX Split into ``k`` outputs: chunks of ceil(d / k), the last one smaller."""
    d = tf.shape(x)[axis]
    chunk = -(-d // k)
    sizes = tf.minimum(tf.maximum(d - tf.range(k) * chunk, 0), chunk)
    return tf.split(x, sizes, axis=axis, num=k)


def slice_onnx(x, starts, ends, axes=None, steps=None):
    """ONNX Slice with starts/ends/axes/steps known only at run time (clamped like Python)."""
    rank = x.shape.rank
    starts = tf.cast(tf.reshape(starts, [-1]), tf.int64)
    ends = tf.cast(tf.reshape(ends, [-1]), tf.int64)
    axes = tf.range(tf.size(starts, out_type=tf.int64)) if axes is None else tf.cast(tf.reshape(axes, [-1]), tf.int64)
    axes = tf.where(axes < 0, axes + rank, axes)
    steps = tf.ones_like(starts) if steps is None else tf.cast(tf.reshape(steps, [-1]), tf.int64)
    idx = axes[:, None]
    dims = tf.shape(x, out_type=tf.int64)
    begin = tf.tensor_scatter_nd_update(tf.zeros([rank], tf.int64), idx, starts)
    end = tf.tensor_scatter_nd_update(dims, idx, ends)
    stride = tf.tensor_scatter_nd_update(tf.ones([rank], tf.int64), idx, steps)
    # clamp like ONNX (and Python): into [0, dim] going forward, into [-1, dim - 1] going back
    lo = tf.where(stride > 0, tf.zeros_like(dims), -tf.ones_like(dims))
    hi = tf.where(stride > 0, dims, dims - 1)
    begin = tf.clip_by_value(tf.where(begin < 0, begin + dims, begin), lo, hi)
    end = tf.clip_by_value(tf.where(end < 0, end + dims, end), lo, hi)
    # a -1 end going backwards means "before the first element": strided_slice needs the mask form
    size = tf.maximum((end - begin + stride - tf.sign(stride)) // stride, 0)
    index = [begin[i] + tf.range(size[i]) * stride[i] for i in range(rank)]
    for i in range(rank):
        x = tf.gather(x, index[i], axis=i)
    return x


def pad_onnx(x, pads, value=0, mode="constant", axes=None):
    """ONNX Pad: any axes, negative pads crop, modes constant / reflect / edge / wrap."""
    rank = x.shape.rank
    pads = tf.cast(tf.reshape(pads, [2, -1]), tf.int64)
    if axes is not None:
        axes = tf.cast(tf.reshape(axes, [-1]), tf.int64)
        idx = tf.where(axes < 0, axes + rank, axes)[:, None]
        begin, end = tf.scatter_nd(idx, pads[0], [rank]), tf.scatter_nd(idx, pads[1], [rank])
    else:
        begin, end = pads[0], pads[1]
    dims = tf.shape(x, out_type=tf.int64)
    crop_b, crop_e = tf.maximum(-begin, 0), tf.maximum(-end, 0)
    x = tf.slice(x, crop_b, dims - crop_b - crop_e)
    begin, end = tf.maximum(begin, 0), tf.maximum(end, 0)
    if mode == "constant":
        value = tf.cast(tf.reshape(value, []), x.dtype)
        return tf.pad(x, tf.stack([begin, end], 1), constant_values=value)
    if mode == "reflect":
        return tf.pad(x, tf.stack([begin, end], 1), mode="REFLECT")
    for axis in range(rank):
        n = tf.shape(x, out_type=tf.int64)[axis]
        idx = tf.range(-begin[axis], n + end[axis])
        idx = tf.clip_by_value(idx, 0, n - 1) if mode == "edge" else tf.math.floormod(idx, n)
        x = tf.gather(x, idx, axis=axis)
    return x


def gather_nd_onnx(x, indices, batch_dims):
    """GatherND with negative indices counted from the end."""
    indices = tf.cast(indices, tf.int64)
    k = indices.shape[-1]
    dims = tf.shape(x, out_type=tf.int64)[batch_dims:batch_dims + k]
    return tf.gather_nd(x, tf.where(indices < 0, indices + dims, indices), batch_dims=batch_dims)


def scatter_nd_onnx(x, indices, updates, reduction="none"):
    """ScatterND with ONNX's reductions (none, add, mul, max, min)."""
    indices = tf.cast(indices, tf.int64)
    k = indices.shape[-1]
    dims = tf.shape(x, out_type=tf.int64)
    indices = tf.where(indices < 0, indices + dims[:k], indices)
    if reduction == "none":
        return tf.tensor_scatter_nd_update(x, indices, updates)
    # one segment per addressed slice: flatten the first k dims
    strides = tf.math.cumprod(dims[:k], exclusive=True, reverse=True)
    flat_idx = tf.reshape(tf.reduce_sum(indices * strides, axis=-1), [-1])
    count = tf.reduce_prod(dims[:k])
    slices = tf.concat([[count], dims[k:]], 0)
    flat_x = tf.reshape(x, slices)
    flat_u = tf.reshape(updates, tf.concat([[-1], dims[k:]], 0))
    if reduction == "add":
        out = flat_x + tf.math.unsorted_segment_sum(flat_u, flat_idx, count)
    elif reduction == "mul":
        out = flat_x * tf.math.unsorted_segment_prod(flat_u, flat_idx, count)
    elif reduction == "max":
        out = tf.math.maximum(flat_x, tf.math.unsorted_segment_max(flat_u, flat_idx, count))
    else:
        out = tf.math.minimum(flat_x, tf.math.unsorted_segment_min(flat_u, flat_idx, count))
    return tf.reshape(out, dims)


def scatter_elements_onnx(x, indices, updates, axis, reduction="none"):
    """ScatterElements: each element of ``updates`` goes to its index along ``axis``."""
    indices = tf.cast(indices, tf.int64)
    shape = tf.shape(indices, out_type=tf.int64)
    grids = tf.meshgrid(*[tf.range(shape[i]) for i in range(indices.shape.rank)], indexing="ij")
    grids[axis] = indices
    return scatter_nd_onnx(x, tf.stack(grids, axis=-1), updates, reduction)


def depth_to_space_nchw(x, b, mode):
    """DepthToSpace on NCHW data, DCR (TensorFlow's order) or CRD."""
    if mode == "DCR":
        return tf.transpose(tf.nn.depth_to_space(tf.transpose(x, [0, 2, 3, 1]), b), [0, 3, 1, 2])
    n, c, h, w = tf.unstack(tf.shape(x))
    y = tf.transpose(tf.reshape(x, tf.stack([n, c // (b * b), b, b, h, w])), [0, 1, 4, 2, 5, 3])
    return tf.reshape(y, tf.stack([n, c // (b * b), h * b, w * b]))


def space_to_depth_nchw(x, b):
    """SpaceToDepth on NCHW data (ONNX's order is TensorFlow's)."""
    return tf.transpose(tf.nn.space_to_depth(tf.transpose(x, [0, 2, 3, 1]), b), [0, 3, 1, 2])


def trilu(x, k, upper):
    """Keep the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims."""
    k = tf.cast(tf.reshape(k, []), tf.int64)
    dims = tf.shape(x, out_type=tf.int64)
    diff = tf.range(dims[-1])[None, :] - tf.range(dims[-2])[:, None]
    return tf.where(diff >= k if upper else diff <= k, x, tf.zeros_like(x))


def eye_like(x, k, dtype):
    dims = tf.shape(x, out_type=tf.int64)
    diff = tf.range(dims[1])[None, :] - tf.range(dims[0])[:, None]
    return tf.cast(tf.equal(diff, k), dtype)


def one_hot_onnx(indices, depth, values, axis):
    """OneHot: negative indices count from the end, any index type, values = [off, on]."""
    depth = tf.cast(tf.reshape(depth, []), tf.int64)
    idx = tf.cast(indices, tf.int64)
    idx = tf.where(idx < 0, idx + depth, idx)
    if axis < -1:
        axis += indices.shape.rank + 1
    return tf.one_hot(idx, tf.cast(depth, tf.int32), on_value=values[1], off_value=values[0], axis=axis,
                      dtype=values.dtype)


def to_string(x):
    """Cast to string the way ONNX prints numbers."""
    if x.dtype == tf.bool:
        return tf.where(x, "1", "0")
    if x.dtype.is_floating:
        return tf.strings.as_string(x, shortest=True)
    return tf.strings.as_string(x)


# ----------------------------------------------------------------- linear algebra
def matmul_onnx(a, b):
    """MatMul with numpy's rules for 1-D operands."""
    if a.shape.rank == 1 and b.shape.rank == 1:
        return tf.reduce_sum(a * b)
    if a.shape.rank == 1:
        return tf.squeeze(tf.linalg.matmul(a[None, :], b), -2)
    if b.shape.rank == 1:
        return tf.squeeze(tf.linalg.matmul(a, b[:, None]), -1)
    return tf.linalg.matmul(a, b)


def qlinear_matmul(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero):
    """QLinearMatMul: integer product of the zero-point-shifted operands, requantized."""
    acc = matmul_onnx(tf.cast(a, tf.int32) - tf.cast(a_zero, tf.int32), tf.cast(b, tf.int32) - tf.cast(b_zero, tf.int32))
    scale = tf.cast(a_scale, tf.float64) * tf.cast(b_scale, tf.float64) / tf.cast(y_scale, tf.float64)
    y = tf.math.round(tf.cast(acc, tf.float64) * scale) + tf.cast(y_zero, tf.float64)
    return tf.cast(tf.clip_by_value(y, y_zero.dtype.min, y_zero.dtype.max), y_zero.dtype)


# ----------------------------------------------------------------- reductions
def reduce_onnx(x, axes, keepdims, noop, op):
    """A Reduce* op whose axes are known only at run time (empty: all axes, or none if ``noop``)."""
    fns = {
        "ReduceSum": tf.math.reduce_sum, "ReduceMean": tf.math.reduce_mean, "ReduceMax": tf.math.reduce_max,
        "ReduceMin": tf.math.reduce_min, "ReduceProd": tf.math.reduce_prod,
        "ReduceLogSumExp": tf.math.reduce_logsumexp,
        "ReduceL1": lambda v, a, keepdims: tf.math.reduce_sum(tf.math.abs(v), a, keepdims=keepdims),
        "ReduceL2": lambda v, a, keepdims: tf.math.sqrt(tf.math.reduce_sum(tf.math.square(v), a, keepdims=keepdims)),
        "ReduceSumSquare": lambda v, a, keepdims: tf.math.reduce_sum(tf.math.square(v), a, keepdims=keepdims),
        "ReduceLogSum": lambda v, a, keepdims: tf.math.log(tf.math.reduce_sum(v, a, keepdims=keepdims)),
    }
    axes = tf.cast(tf.reshape(axes, [-1]), tf.int32)
    if noop:
        return tf.cond(tf.size(axes) > 0, lambda: fns[op](x, axes, keepdims=keepdims), lambda: x)
    axes = tf.cond(tf.size(axes) > 0, lambda: axes, lambda: tf.range(tf.rank(x)))
    return fns[op](x, axes, keepdims=keepdims)


def topk_onnx(x, k, axis, largest):
    """TopK along ``axis``; equal values keep their index order; indices are int64."""
    k = tf.cast(tf.reshape(k, []), tf.int32)
    rank = x.shape.rank
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    if axis != rank - 1:
        x = tf.transpose(x, perm)
    if largest and not x.dtype.is_unsigned:
        values, indices = tf.math.top_k(x, k)
    else:
        order = tf.argsort(x, axis=-1, direction="DESCENDING" if largest else "ASCENDING", stable=True)[..., :k]
        values, indices = tf.gather(x, order, batch_dims=rank - 1), order
    indices = tf.cast(indices, tf.int64)
    if axis != rank - 1:
        values, indices = tf.transpose(values, perm), tf.transpose(indices, perm)
    return values, indices


# ----------------------------------------------------------------- windows (channels-last)
def pool_pads(x, kernel, strides, dilations, pads, ceil, auto_pad):
    """(begin, end) padding per spatial dim of channels-last ``x`` at run time: auto_pad SAME
    (``pads`` None) or explicit ``pads``, the end including what ceil_mode adds."""
    n = len(kernel)
    sizes = tf.shape(x, out_type=tf.int64)[1:1 + n]
    begin, end = [], []
    for i in range(n):
        size, window = sizes[i], (kernel[i] - 1) * dilations[i] + 1
        if pads is None:
            out = (size + strides[i] - 1) // strides[i]
            total = tf.maximum((out - 1) * strides[i] + window - size, 0)
            small = total // 2
            b, e = (total - small, small) if auto_pad == "SAME_LOWER" else (small, total - small)
        else:
            b, e = tf.constant(pads[i], tf.int64), tf.constant(pads[n + i], tf.int64)
        if ceil:
            span = size + b + e - window
            out = (span + strides[i] - 1) // strides[i] + 1
            out = tf.where((out - 1) * strides[i] >= size + b, out - 1, out)
            e = e + tf.maximum((out - 1) * strides[i] + window - (size + b + e), 0)
        begin.append(b)
        end.append(e)
    return begin, end


def pad_cl(x, begin, end, value):
    """Pad the spatial dims of channels-last ``x``."""
    zero = tf.zeros([], tf.int64)
    pairs = tf.stack([tf.stack([zero, zero])] + [tf.stack([tf.cast(b, tf.int64), tf.cast(e, tf.int64)])
                                                  for b, e in zip(begin, end)] + [tf.stack([zero, zero])])
    return tf.pad(x, pairs, constant_values=tf.cast(value, x.dtype))


def pad_same_cl(x, kernel, strides, dilations):
    """Zero padding of channels-last ``x`` for auto_pad SAME_LOWER on sizes known at run time."""
    begin, end = pool_pads(x, kernel, strides, dilations, None, False, "SAME_LOWER")
    return pad_cl(x, begin, end, 0)


def pool_windows_cl(x, kernel, strides, dilations, reduce):
    """``reduce`` over the (dilated) windows of an already padded channels-last ``x``."""
    n = len(kernel)
    sizes = tf.shape(x, out_type=tf.int64)[1:1 + n]
    outs = [(sizes[i] - (kernel[i] - 1) * dilations[i] - 1) // strides[i] + 1 for i in range(n)]
    taps = []
    for offset in np.ndindex(*kernel):
        begin = [0] + [int(o) * d for o, d in zip(offset, dilations)] + [0]
        end = [0] + [b + (o - 1) * s + 1 for b, o, s in zip(begin[1:], outs, strides)] + [0]
        taps.append(tf.strided_slice(x, begin, tf.stack([tf.cast(e, tf.int64) for e in end]), [1, *strides, 1],
                                     end_mask=1 | (1 << (n + 1))))
    return reduce(tf.stack(taps, 0), axis=0)


def max_pool_cl(x, kernel, strides, dilations, pads, ceil, auto_pad):
    """MaxPool of channels-last ``x`` with sizes known at run time or dilated windows."""
    begin, end = pool_pads(x, kernel, strides, dilations, pads, ceil, auto_pad)
    lowest = -math.inf if x.dtype.is_floating else x.dtype.min
    x = pad_cl(x, begin, end, lowest)
    if all(d == 1 for d in dilations):
        return tf.nn.max_pool(x, kernel, strides, "VALID")
    return pool_windows_cl(x, kernel, strides, dilations, tf.math.reduce_max)


def avg_pool_cl(x, kernel, strides, dilations, pads, ceil, count_include_pad, auto_pad):
    """AveragePool of channels-last ``x``: the window sum over the count of real elements
    (with count_include_pad, the explicit padding counts too; ceil_mode's extension never)."""
    begin, end = pool_pads(x, kernel, strides, dilations, pads, ceil, auto_pad)
    n = len(kernel)
    ones = tf.ones_like(x[..., :1])
    if count_include_pad:
        explicit_end = list(pads[n:]) if pads is not None else end
        mask = pad_cl(pad_cl(ones, begin, explicit_end, 1), [0] * n,
                      [e - p for e, p in zip(end, explicit_end)], 0)
    else:
        mask = pad_cl(ones, begin, end, 0)
    x = pad_cl(x, begin, end, 0)
    if all(d == 1 for d in dilations):
        return tf.nn.avg_pool(x, kernel, strides, "VALID") / tf.nn.avg_pool(mask, kernel, strides, "VALID")
    total = pool_windows_cl(x, kernel, strides, dilations, tf.math.reduce_sum)
    return total / pool_windows_cl(mask, kernel, strides, dilations, tf.math.reduce_sum)


def lp_pool_cl(x, p, kernel, strides, dilations, pads, ceil, auto_pad):
    """LpPool of channels-last ``x``: (sum over the window of |x|^p)^(1/p), zero padding."""
    begin, end = pool_pads(x, kernel, strides, dilations, pads, ceil, auto_pad)
    x = pad_cl(tf.math.pow(tf.math.abs(x), p), begin, end, 0)
    total = pool_windows_cl(x, kernel, strides, dilations, tf.math.reduce_sum)
    return tf.math.pow(total, 1.0 / p)


def max_pool_indices(x, kernel, strides, begin, end, storage_order):
    """2-D MaxPool of channel-first ``x`` and ONNX's Indices (flat positions in NCHW, or NCWH
    with storage_order 1) of each maximum in the unpadded input."""
    xt = tf.transpose(x, [0, 2, 3, 1])
    lowest = -math.inf if x.dtype.is_floating else x.dtype.min
    padded = tf.pad(xt, [[0, 0], [begin[0], end[0]], [begin[1], end[1]], [0, 0]], constant_values=lowest)
    values, idx = tf.nn.max_pool_with_argmax(padded, [1, *kernel, 1], [1, *strides, 1], "VALID",
                                             include_batch_in_index=True)
    dims = tf.shape(padded, out_type=tf.int64)
    c = idx % dims[3]
    rest = idx // dims[3]
    col = rest % dims[2] - begin[1]
    rest = rest // dims[2]
    row = rest % dims[1] - begin[0]
    n = rest // dims[1]
    h, w = dims[1] - begin[0] - end[0], dims[2] - begin[1] - end[1]
    flat = ((n * dims[3] + c) * h + row) * w + col if not storage_order else ((n * dims[3] + c) * w + col) * h + row
    return tf.transpose(values, [0, 3, 1, 2]), tf.transpose(flat, [0, 3, 1, 2])


def conv_transpose_cl(x, w, bias, strides, dilations, begin, end, out_pad, group):
    """ConvTranspose of channels-last ``x`` with a [k..., out/group, in] kernel: the full
    output, ``out_pad`` added at the end, ``begin``/``end`` cropped, grouped by splitting."""
    n = len(strides)
    dims = tf.shape(x, out_type=tf.int64)
    kernel = w.shape[:n]
    full = [(dims[1 + i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(n)]
    xs = tf.split(x, group, axis=-1) if group > 1 else [x]
    ws = tf.split(w, group, axis=-1) if group > 1 else [w]
    outs = []
    for xg, wg in zip(xs, ws):
        shape = tf.stack([dims[0], *full, tf.cast(tf.shape(wg)[-2], tf.int64)])
        outs.append(tf.nn.conv_transpose(xg, wg, shape, [1, *strides, 1], "VALID",
                                         dilations=[1, *dilations, 1]))
    y = tf.concat(outs, -1) if group > 1 else outs[0]
    if any(out_pad):
        y = tf.pad(y, [[0, 0]] + [[0, p] for p in out_pad] + [[0, 0]])
    if any(begin) or any(end):
        size = tf.shape(y, out_type=tf.int64)
        y = tf.slice(y, [0, *begin, 0], tf.stack([size[0]] + [size[1 + i] - begin[i] - end[i] for i in range(n)]
                                               + [size[-1]]))
    return y if bias is None else tf.nn.bias_add(y, bias)


def lrn_cl(x, size, alpha, beta, bias):
    """LRN over the last axis: the window [c - floor((size-1)/2), c + ceil((size-1)/2)]."""
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    square = tf.pad(tf.math.square(x), [[0, 0]] * (x.shape.rank - 1) + [[lo, hi]])
    channels = tf.shape(x)[-1]
    total = tf.add_n([square[..., i:i + channels] for i in range(size)])
    return x / tf.math.pow(bias + alpha / size * total, beta)

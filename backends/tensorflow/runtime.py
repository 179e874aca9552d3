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
    "resize_onnx": ("resize_axis", "resize_axis_dense"),
    "recurrent_onnx": ("rnn_activation",),
    "quantize_linear": ("quant_param",),
    "dequantize_linear": ("quant_param",),
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


def space_to_depth_nchw(x, b, mode="DCR"):
    """SpaceToDepth on NCHW data: DCR (TensorFlow's order) or CRD."""
    if mode == "DCR":
        return tf.transpose(tf.nn.space_to_depth(tf.transpose(x, [0, 2, 3, 1]), b), [0, 3, 1, 2])
    n, c, h, w = tf.unstack(tf.shape(x))
    y = tf.transpose(tf.reshape(x, tf.stack([n, c, h // b, b, w // b, b])), [0, 1, 3, 5, 2, 4])
    return tf.reshape(y, tf.stack([n, c * b * b, h // b, w // b]))


def bitshift_onnx(x, shift, left):
    """BitShift where a shift may be negative or at least the bit width (ONNX: 0, or the sign
    for a right shift of a negative signed value)."""
    shift = tf.cast(shift, x.dtype)
    x, shift = x + tf.zeros_like(shift), shift + tf.zeros_like(x)
    bits = x.dtype.size * 8
    bad = (shift < 0) | (shift >= bits)
    safe = tf.where(bad, tf.zeros_like(shift), shift)
    if left:
        return tf.where(bad, tf.zeros_like(x), tf.bitwise.left_shift(x, safe))
    fill = tf.where(x < 0, -tf.ones_like(x), tf.zeros_like(x)) if not x.dtype.is_unsigned else tf.zeros_like(x)
    return tf.where(bad, fill, tf.bitwise.right_shift(x, safe))


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
    if x.dtype == tf.bool:
        fns.update({"ReduceMax": tf.math.reduce_any, "ReduceMin": tf.math.reduce_all})
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
        taps.append(tf.strided_slice(x, tf.constant(begin, tf.int64), tf.stack([tf.cast(e, tf.int64) for e in end]),
                                     tf.constant([1, *strides, 1], tf.int64), end_mask=1 | (1 << (n + 1))))
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
        shape = tf.cast(tf.stack([dims[0], *full, tf.cast(tf.shape(wg)[-2], tf.int64)]), tf.int32)
        outs.append(tf.nn.conv_transpose(xg, wg, shape, [1, *strides, 1], "VALID",
                                         dilations=[1, *dilations, 1]))
    y = tf.concat(outs, -1) if group > 1 else outs[0]
    if any(out_pad):
        y = tf.pad(y, [[0, 0]] + [[0, p] for p in out_pad] + [[0, 0]])
    if any(begin) or any(end):
        size = tf.shape(y, out_type=tf.int64)
        y = tf.slice(y, tf.constant([0, *begin, 0], tf.int64), tf.stack([size[0]] + [size[1 + i] - begin[i] - end[i] for i in range(n)]
                                               + [size[-1]]))
    return y if bias is None else tf.nn.bias_add(y, bias)


def lrn_cl(x, size, alpha, beta, bias):
    """LRN over the last axis: the window [c - floor((size-1)/2), c + ceil((size-1)/2)]."""
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    square = tf.pad(tf.math.square(x), [[0, 0]] * (x.shape.rank - 1) + [[lo, hi]])
    channels = tf.shape(x)[-1]
    total = tf.add_n([square[..., i:i + channels] for i in range(size)])
    return x / tf.math.pow(bias + alpha / size * total, beta)


# ----------------------------------------------------------------- resize
def resize_axis(x, axis, out_size, scale, mode, coord, nearest, cubic_a, exclude_outside, roi, extrapolation,
                antialias):
    """Resize ``x`` along one axis to ``out_size`` the way ONNX Resize does (float64 coordinates)."""
    size = tf.shape(x, out_type=tf.int64)[axis]
    n_in = tf.cast(size, tf.float64)
    scale = tf.cast(scale, tf.float64)
    y = tf.range(out_size, dtype=tf.float64)
    n_out = tf.cast(out_size, tf.float64)
    if coord == "align_corners":
        x_ori = tf.where(n_out > 1, y * (n_in - 1) / tf.maximum(n_out - 1, 1), tf.zeros_like(y))
    elif coord == "asymmetric":
        x_ori = y / scale
    elif coord == "tf_crop_and_resize":
        start, end = tf.cast(roi[0], tf.float64), tf.cast(roi[1], tf.float64)
        x_ori = tf.where(n_out > 1, y * (end - start) * (n_in - 1) / tf.maximum(n_out - 1, 1),
                         tf.fill(tf.shape(y), (end - start) * (n_in - 1) / 2)) + start * (n_in - 1)
    elif coord == "pytorch_half_pixel":
        x_ori = tf.where(n_out > 1, (y + 0.5) / scale - 0.5, -0.5 * tf.ones_like(y))
    elif coord == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / (scale * n_in))
        x_ori = offset + (y + 0.5) / scale - 0.5
    else:
        x_ori = (y + 0.5) / scale - 0.5
    last = size - 1
    if mode == "nearest":
        rounding = {"round_prefer_floor": lambda v: tf.math.ceil(v - 0.5), "round_prefer_ceil":
                    lambda v: tf.math.floor(v + 0.5), "floor": tf.math.floor, "ceil": tf.math.ceil}[nearest]
        idx = tf.clip_by_value(tf.cast(rounding(x_ori), tf.int64), 0, last)
        out = tf.gather(x, idx, axis=axis)
    else:
        base = tf.math.floor(x_ori)
        frac = x_ori - base
        static = tf.get_static_value(scale)
        if antialias and static is None:
            return resize_axis_dense(x, axis, x_ori, tf.minimum(scale, 1.0), mode, cubic_a, exclude_outside)
        s = min(float(static), 1.0) if antialias else 1.0
        if mode == "linear":
            first = int(math.floor(-1 / s) + 1) if antialias else 0
            offsets = range(first, 2 - first)

            def kernel(d):
                return tf.clip_by_value(1 - tf.math.abs(d), 0.0, 1.0)
        else:
            first = int(math.floor(-2 / s) + 1) if antialias else -1
            offsets = range(first, 2 - first + (0 if antialias else 1))

            def kernel(d):
                d = tf.math.abs(d)
                near = ((cubic_a + 2) * d - (cubic_a + 3)) * d * d + 1
                far = ((cubic_a * d - 5 * cubic_a) * d + 8 * cubic_a) * d - 4 * cubic_a
                return tf.where(d <= 1, near, tf.where(d < 2, far, tf.zeros_like(d)))
        taps = [tf.cast(base, tf.int64) + o for o in offsets]
        weights = [kernel((o - frac) * s) for o in offsets]
        if antialias:
            total = tf.add_n(weights)
            weights = [w / total for w in weights]
        if exclude_outside:
            weights = [tf.where((t < 0) | (t > last), tf.zeros_like(w), w) for t, w in zip(taps, weights)]
            total = tf.add_n(weights)
            weights = [w / tf.where(total == 0, tf.ones_like(total), total) for w in weights]
        shape = [1] * x.shape.rank
        shape[axis] = -1
        out = tf.add_n([tf.gather(x, tf.clip_by_value(t, 0, last), axis=axis) * tf.reshape(tf.cast(w, x.dtype), shape)
                        for t, w in zip(taps, weights)])
    if coord == "tf_crop_and_resize":
        shape = [1] * x.shape.rank
        shape[axis] = -1
        outside = tf.reshape((x_ori < 0) | (x_ori > tf.cast(last, tf.float64)), shape)
        out = tf.where(outside, tf.cast(extrapolation, x.dtype), out)
    return out


def resize_axis_dense(x, axis, x_ori, s, mode, cubic_a, exclude_outside):
    """Antialiased linear/cubic resize along ``axis`` when the scale is known only at run time:
    every input position weighs in (the kernel, scaled by ``s``, is zero outside its footprint);
    positions beyond the edges take the edge value, as ONNX's edge padding does."""
    size = tf.shape(x, out_type=tf.int64)[axis]
    pos = tf.range(-size, 2 * size)
    d = (tf.cast(pos, tf.float64)[None, :] - x_ori[:, None]) * s
    if mode == "linear":
        w = tf.clip_by_value(1 - tf.math.abs(d), 0.0, 1.0)
    else:
        a, ad = cubic_a, tf.math.abs(d)
        w = tf.where(ad <= 1, ((a + 2) * ad - (a + 3)) * ad * ad + 1,
                     tf.where(ad < 2, ((a * ad - 5 * a) * ad + 8 * a) * ad - 4 * a, tf.zeros_like(ad)))
    w = w / tf.reduce_sum(w, axis=1, keepdims=True)
    if exclude_outside:
        w = tf.where(((pos < 0) | (pos >= size))[None, :], tf.zeros_like(w), w)
        w = w / tf.reduce_sum(w, axis=1, keepdims=True)
    taps = tf.gather(x, tf.clip_by_value(pos, 0, size - 1), axis=axis)
    moved = tf.experimental.numpy.moveaxis(taps, axis, -1)
    out = tf.linalg.matmul(moved, tf.cast(w, x.dtype), transpose_b=True)
    return tf.experimental.numpy.moveaxis(out, -1, axis)


def resize_onnx(x, roi=None, scales=None, sizes=None, mode="nearest", coord="half_pixel", nearest="round_prefer_floor",
                cubic_a=-0.75, exclude_outside=False, extrapolation=0.0, antialias=False, axes=None, policy="stretch"):
    """ONNX Resize: every coordinate mode, nearest mode and interpolation, one axis at a time."""
    rank = x.shape.rank
    axes = list(range(rank)) if axes is None else [a + rank if a < 0 else a for a in axes]
    dims = tf.shape(x, out_type=tf.int64)
    if sizes is not None and sizes.shape.num_elements() != 0:
        sizes = tf.cast(tf.reshape(sizes, [-1]), tf.int64)
        ratio = tf.cast(sizes, tf.float64) / tf.cast(tf.gather(dims, axes), tf.float64)
        if policy != "stretch":
            one = tf.reduce_min(ratio) if policy == "not_larger" else tf.reduce_max(ratio)
            ratio = tf.fill(tf.shape(ratio), one)
            sizes = tf.cast(tf.math.floor(ratio * tf.cast(tf.gather(dims, axes), tf.float64) + 0.5), tf.int64)
    else:
        ratio = tf.cast(tf.reshape(scales, [-1]), tf.float64)
        sizes = tf.cast(tf.math.floor(ratio * tf.cast(tf.gather(dims, axes), tf.float64)), tf.int64)
    if roi is not None and (roi.shape.rank is None or roi.shape.num_elements() != 0):
        roi = tf.reshape(tf.cast(roi, tf.float64), [2, -1])
    else:
        roi = None
    wide = x.dtype not in (tf.float32, tf.float64) and mode != "nearest"
    y = tf.cast(x, tf.float32) if wide else x
    for k, axis in enumerate(axes):
        axis_roi = None if roi is None else (roi[0, k], roi[1, k])
        static_ratio = tf.get_static_value(ratio[k])
        static_size = tf.get_static_value(sizes[k])
        if static_ratio is not None and static_size is not None and static_ratio == 1 and axis_roi is None \
                and static_size == x.shape[axis]:
            continue
        y = resize_axis(y, axis, sizes[k], ratio[k], mode, coord, nearest, cubic_a, exclude_outside, axis_roi,
                        extrapolation, antialias)
    if wide:
        y = tf.cast(tf.clip_by_value(tf.math.round(y), x.dtype.min, x.dtype.max), x.dtype)
    return y


def split_chunks(x, size, axis):
    """SplitToSequence with a scalar split: chunks of ``size``, the last one smaller."""
    d = x.shape[axis]
    sizes = [size] * (d // size) + ([d % size] if d % size else [])
    return tf.split(x, sizes, axis=axis)


# ----------------------------------------------------------------- recurrent
def rnn_activation(name, alpha=None, beta=None):
    """An ONNX RNN activation by name, with its alpha/beta (ONNX's defaults when None)."""
    def a(default):
        return default if alpha is None else alpha

    def b(default):
        return default if beta is None else beta
    table = {
        "Relu": tf.nn.relu, "Tanh": tf.math.tanh, "Sigmoid": tf.math.sigmoid, "Softsign": tf.nn.softsign,
        "Softplus": tf.math.softplus,
        "Affine": lambda v: a(1.0) * v + b(0.0),
        "LeakyRelu": lambda v: tf.where(v >= 0, v, a(0.01) * v),
        "ThresholdedRelu": lambda v: tf.where(v > a(1.0), v, tf.zeros_like(v)),
        "ScaledTanh": lambda v: a(1.0) * tf.math.tanh(b(1.0) * v),
        "HardSigmoid": lambda v: tf.clip_by_value(a(0.2) * v + b(0.5), 0.0, 1.0),
        "Elu": lambda v: tf.where(v >= 0, v, a(1.0) * tf.math.expm1(v)),
    }
    return table[name]


def recurrent_onnx(kind, x, w, r, b=None, lens=None, h0=None, c0=None, p=None, hidden=0, direction="forward",
                   activations=(), clip=None, linear_before_reset=False, layout=0, input_forget=False):
    """ONNX RNN / GRU / LSTM: returns (Y, Y_h[, Y_c]) in ONNX's shapes."""
    if layout:
        x = tf.transpose(x, [1, 0, 2])
        h0 = None if h0 is None else tf.transpose(h0, [1, 0, 2])
        c0 = None if c0 is None else tf.transpose(c0, [1, 0, 2])
    steps, batch = tf.shape(x)[0], tf.shape(x)[1]
    dirs = 2 if direction == "bidirectional" else 1
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]
    n_act = {"RNN": 1, "GRU": 2, "LSTM": 3}[kind]
    lens = None if lens is None else tf.cast(lens, tf.int32)
    ys, hs, cs = [], [], []
    for d in range(dirs):
        f = [rnn_activation(*activations[d * n_act + k]) for k in range(n_act)]
        wd, rd = tf.transpose(w[d]), tf.transpose(r[d])
        bd = tf.zeros([2 * gates * hidden], x.dtype) if b is None else b[d]
        wb, rb = bd[:gates * hidden], bd[gates * hidden:]
        pd = tf.zeros([3 * hidden], x.dtype) if p is None else p[d]
        h = tf.zeros(tf.stack([batch, hidden]), x.dtype) if h0 is None else h0[d]
        cell = tf.zeros(tf.stack([batch, hidden]), x.dtype) if c0 is None else c0[d]
        reverse = direction == "reverse" or d == 1
        xs = x
        if reverse:
            xs = tf.reverse(x, [0]) if lens is None else tf.reverse_sequence(x, lens, seq_axis=0, batch_axis=1)
        mask = tf.ones(tf.stack([steps, batch]), tf.bool) if lens is None else \
            tf.range(steps)[:, None] < lens[None, :]

        def clipped(v):
            return v if clip is None else tf.clip_by_value(v, -clip, clip)

        def step(state, inputs, f=f, wd=wd, rd=rd, wb=wb, rb=rb, pd=pd):
            h, cell = state[0], state[1]
            xt, mt = inputs
            xw = tf.linalg.matmul(xt, wd) + wb
            if kind == "RNN":
                h_new, c_new = f[0](clipped(xw + tf.linalg.matmul(h, rd) + rb)), cell
            elif kind == "GRU":
                xz, xr, xh = tf.split(xw, 3, axis=-1)
                rz, rr, rh = tf.split(rd, 3, axis=-1)
                bz, br, bh = tf.split(rb, 3)
                z = f[0](clipped(xz + tf.linalg.matmul(h, rz) + bz))
                rt = f[0](clipped(xr + tf.linalg.matmul(h, rr) + br))
                if linear_before_reset:
                    ht = f[1](clipped(xh + rt * (tf.linalg.matmul(h, rh) + bh)))
                else:
                    ht = f[1](clipped(xh + tf.linalg.matmul(rt * h, rh) + bh))
                h_new, c_new = (1 - z) * ht + z * h, cell
            else:
                g = xw + tf.linalg.matmul(h, rd) + rb
                gi, go, gf, gc = tf.split(g, 4, axis=-1)
                pi, po, pf = tf.split(pd, 3)
                ft = f[0](clipped(gf + pf * cell))
                it = 1 - ft if input_forget else f[0](clipped(gi + pi * cell))
                c_new = ft * cell + it * f[1](clipped(gc))
                ot = f[0](clipped(go + po * c_new))
                h_new = ot * f[2](c_new)
            keep = mt[:, None]
            h_new = tf.where(keep, h_new, h)
            c_new = tf.where(keep, c_new, cell)
            return h_new, c_new, tf.where(keep, h_new, tf.zeros_like(h_new))

        h_all, c_all, y = tf.scan(lambda s, i: step(s, i), (xs, mask), initializer=(h, cell, tf.zeros_like(h)))
        last, c_last = h_all[-1], c_all[-1]
        if reverse:
            y = tf.reverse(y, [0]) if lens is None else tf.reverse_sequence(y, lens, seq_axis=0, batch_axis=1)
        ys.append(y)
        hs.append(last)
        cs.append(c_last)
    y = tf.stack(ys, 1)
    y_h, y_c = tf.stack(hs, 0), tf.stack(cs, 0)
    if layout:
        y = tf.transpose(y, [2, 0, 1, 3])
        y_h, y_c = tf.transpose(y_h, [1, 0, 2]), tf.transpose(y_c, [1, 0, 2])
    return (y, y_h, y_c) if kind == "LSTM" else (y, y_h)


# ----------------------------------------------------------------- quantization
def quant_param(v, x, axis, block_size=0):
    """A scale or zero point shaped to broadcast against ``x``: per tensor, per axis or per block."""
    if v.shape.rank == 0:
        return v
    if block_size:
        v = tf.repeat(v, block_size, axis=axis)
        return tf.gather(v, tf.range(tf.shape(x)[axis]), axis=axis)
    return tf.reshape(v, [-1] + [1] * (x.shape.rank - axis - 1))


def quantize_linear(x, scale, zero_point, axis, dtype, block_size=0):
    """QuantizeLinear: round half to even, add the zero point, saturate."""
    y = tf.math.round(tf.cast(x, tf.float32) / tf.cast(quant_param(scale, x, axis, block_size), tf.float32))
    if zero_point is not None:
        y = y + tf.cast(quant_param(zero_point, x, axis, block_size), tf.float32)
    return tf.cast(tf.clip_by_value(y, dtype.min, dtype.max), dtype)


def dequantize_linear(x, scale, zero_point, axis, block_size=0):
    """DequantizeLinear: (x - zero point) * scale, in the scale's type."""
    y = tf.cast(x, tf.float32)
    if zero_point is not None:
        y = y - tf.cast(quant_param(zero_point, x, axis, block_size), tf.float32)
    return tf.cast(y * tf.cast(quant_param(scale, x, axis, block_size), tf.float32), scale.dtype)


# ----------------------------------------------------------------- detection, sets, sampling
def nms_onnx(boxes, scores, max_out=None, iou=None, score_threshold=None, center_point_box=0):
    """NonMaxSuppression per batch and class: [selected, 3] rows of (batch, class, box), int64."""
    max_out = tf.zeros([], tf.int32) if max_out is None else tf.cast(tf.reshape(max_out, []), tf.int32)
    iou = 0.0 if iou is None else tf.reshape(iou, [])
    score_threshold = float("-inf") if score_threshold is None else tf.reshape(score_threshold, [])
    if center_point_box:
        xc, yc, w, h = tf.unstack(boxes, axis=-1)
        boxes = tf.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)
    rows = []
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            keep = tf.image.non_max_suppression(boxes[b], scores[b, c], max_out, iou, score_threshold)
            keep = tf.cast(keep, tf.int64)
            rows.append(tf.stack([tf.fill(tf.shape(keep), tf.constant(b, tf.int64)),
                                  tf.fill(tf.shape(keep), tf.constant(c, tf.int64)), keep], axis=1))
    return tf.concat(rows, 0)


def unique_onnx(x, axis, sort):
    """Unique: (values, first indices, inverse indices, counts), sorted or in order of appearance."""
    if axis is None:
        rows = tf.reshape(x, [-1, 1])
    else:
        axis = axis + x.shape.rank if axis < 0 else axis
        moved = tf.experimental.numpy.moveaxis(x, axis, 0)
        rows = tf.reshape(moved, tf.stack([tf.shape(moved)[0], -1]))
    n = tf.shape(rows, out_type=tf.int64)[0]
    # the first row equal to each row: its key
    same = tf.reduce_all(tf.equal(rows[:, None, :], rows[None, :, :]), axis=-1)
    first_of = tf.argmax(tf.cast(same, tf.int64), axis=1)
    is_first = tf.equal(first_of, tf.range(n))
    firsts = tf.boolean_mask(tf.range(n), is_first)
    if sort:
        order = tf.range(tf.size(firsts, out_type=tf.int64))
        for k in reversed(range(rows.shape[1])):
            col = tf.gather(tf.gather(rows[:, k], firsts), order)
            order = tf.gather(order, tf.argsort(col, stable=True))
        firsts = tf.gather(firsts, order)
    slot = tf.argmax(tf.cast(tf.equal(first_of[:, None], firsts[None, :]), tf.int64), axis=1)
    counts = tf.math.bincount(tf.cast(slot, tf.int32), minlength=tf.size(firsts), dtype=tf.int64)
    if axis is None:
        values = tf.gather(tf.reshape(x, [-1]), firsts)
    else:
        values = tf.experimental.numpy.moveaxis(tf.gather(moved, firsts), 0, axis)
    return values, firsts, slot, counts


def grid_sample_onnx(x, grid, mode="linear", padding_mode="zeros", align_corners=False):
    """GridSample on N-D channel-first ``x`` with a grid of normalized (x, y[, z]) coordinates."""
    n = x.shape.rank - 2
    data = tf.transpose(x, [0, *range(2, n + 2), 1])
    sizes = [tf.cast(tf.shape(x)[2 + i], grid.dtype) for i in range(n)]
    coords = []
    for i in range(n):  # grid's last axis lists x (the last spatial dim) first
        g = grid[..., n - 1 - i]
        size = sizes[i]
        coords.append(((g + 1) / 2) * (size - 1) if align_corners else ((g + 1) * size - 1) / 2)

    def reflect(v, size):
        lo, hi = (0.0, size - 1) if align_corners else (-0.5, size - 0.5)
        span = hi - lo
        d = tf.math.abs(v - lo)
        flips = tf.math.floor(d / tf.maximum(span, 1e-12))
        extra = d - flips * span
        out = tf.where(tf.math.floormod(flips, 2) == 0, lo + extra, hi - extra)
        return tf.where(span > 0, out, tf.zeros_like(v))

    def bound(v, size):
        if padding_mode == "border":
            return tf.clip_by_value(v, 0, size - 1)
        if padding_mode == "reflection":
            return tf.clip_by_value(reflect(v, size), 0, size - 1)
        return v

    def fetch(idx):
        inside = tf.ones_like(idx[0], tf.bool)
        for i in range(n):
            inside = inside & (idx[i] >= 0) & (idx[i] <= tf.cast(sizes[i], tf.int64) - 1)
            idx[i] = tf.clip_by_value(idx[i], 0, tf.cast(sizes[i], tf.int64) - 1)
        v = tf.gather_nd(data, tf.stack(idx, -1), batch_dims=1)
        return tf.where(inside[..., None], v, tf.zeros_like(v))

    if mode == "nearest":
        idx = [tf.cast(tf.math.round(bound(c, s)), tf.int64) for c, s in zip(coords, sizes)]
        out = fetch(idx)
    elif mode == "linear":
        coords = [bound(c, s) for c, s in zip(coords, sizes)]
        base = [tf.math.floor(c) for c in coords]
        out = 0
        for corner in np.ndindex(*([2] * n)):
            w = 1
            idx = []
            for i, o in enumerate(corner):
                f = coords[i] - base[i]
                w = w * (f if o else 1 - f)
                idx.append(tf.cast(base[i], tf.int64) + o)
            out = out + fetch(idx) * tf.cast(w, x.dtype)[..., None]
    else:
        a = -0.75

        def kernel(d):
            d = tf.math.abs(d)
            return tf.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
                            tf.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, tf.zeros_like(d)))
        base = [tf.math.floor(c) for c in coords]
        out = 0
        for taps in np.ndindex(*([4] * n)):
            w = 1
            idx = []
            for i, t in enumerate(taps):
                pos = base[i] + (t - 1)
                w = w * kernel(coords[i] - pos)
                if padding_mode != "zeros":
                    pos = bound(pos, sizes[i])
                idx.append(tf.cast(pos, tf.int64))
            out = out + fetch(idx) * tf.cast(w, x.dtype)[..., None]
    return tf.transpose(out, [0, n + 1, *range(1, n + 1)])


# ----------------------------------------------------------------- strings
def string_concat(a, b):
    shape = tf.broadcast_dynamic_shape(tf.shape(a), tf.shape(b))
    return tf.strings.join([tf.broadcast_to(a, shape), tf.broadcast_to(b, shape)])


def string_split(x, sep=None, maxsplit=None):
    """StringSplit: the substrings padded with "" to the longest split, and each split's length."""
    flat = tf.reshape(x, [-1])
    parts = tf.strings.split(flat, sep=sep or None, maxsplit=-1 if maxsplit is None else maxsplit)
    if not sep:  # runs of whitespace never give empty parts (TensorFlow adds one with maxsplit)
        parts = tf.ragged.boolean_mask(parts, tf.not_equal(parts, ""))
    dense = parts.to_tensor(default_value="")
    lengths = tf.cast(parts.row_lengths(), tf.int64)
    shape = tf.shape(x, out_type=tf.int64)
    return tf.reshape(dense, tf.concat([shape, tf.shape(dense, out_type=tf.int64)[1:]], 0)), tf.reshape(lengths, shape)


def string_normalizer(x, action, case_sensitive, stopwords):
    """StringNormalizer: drop stopwords, change case; an empty result is one empty string."""
    flat = tf.reshape(x, [-1])
    if stopwords:
        key = flat if case_sensitive else tf.strings.lower(flat, encoding="utf-8")
        stops = tf.constant(stopwords if case_sensitive else [s.lower() for s in stopwords])
        flat = tf.boolean_mask(flat, tf.logical_not(tf.reduce_any(tf.equal(key[:, None], stops[None, :]), axis=1)))
    if action == "LOWER":
        flat = tf.strings.lower(flat, encoding="utf-8")
    elif action == "UPPER":
        flat = tf.strings.upper(flat, encoding="utf-8")
    flat = tf.cond(tf.size(flat) > 0, lambda: flat, lambda: tf.constant([""]))
    return tf.reshape(flat, [1, -1]) if x.shape.rank == 2 else flat


def batch_norm_training(x, scale, bias, mean, var, eps, momentum):
    """BatchNormalization in training mode on channel-first ``x``: normalized with the batch's
    statistics; the running statistics updated with ``momentum``."""
    axes = [0, *range(2, x.shape.rank)]
    batch_mean, batch_var = tf.nn.moments(x, axes)
    shape = [-1] + [1] * (x.shape.rank - 2)
    y = tf.nn.batch_normalization(x, tf.reshape(batch_mean, shape), tf.reshape(batch_var, shape),
                                  tf.reshape(bias, shape), tf.reshape(scale, shape), eps)
    return y, mean * momentum + batch_mean * (1 - momentum), var * momentum + batch_var * (1 - momentum)

"""Helper functions that emitted ``model.py`` files may need.

An op whose ONNX semantics have no one-line PyTorch spelling (asymmetric ceil-mode
pooling, GatherND, ONNX Resize coordinate modes ...) is emitted as a call to one of
these functions; the emitter copies the source of each helper it uses (and of the
helpers that one calls, see ``DEPENDS``) into ``model.py``, so the artifact never
imports mmconvert.  Every helper is plain torch code that ``torch.export`` can trace.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F

DEPENDS: dict[str, tuple[str, ...]] = {
    "max_pool_onnx": ("pool_windows", "onnx_pool_pads"),
    "avg_pool_onnx": ("pool_windows", "onnx_pool_pads"),
    "lp_pool_onnx": ("pool_windows", "onnx_pool_pads"),
    "resize_onnx": ("resize_coords",),
    "attention_onnx": (),
    "scan_slices": (),
}


def sources(names: list[str]) -> str:
    """The source text of the helpers ``names``, in a stable order."""
    out = []
    for name in sorted(set(names), key=list(globals()).index):
        out.append(inspect.getsource(globals()[name]))
    return "\n\n".join(out)


# ----------------------------------------------------------------- padding / pooling
def pad_same(x, kernel, strides, dilations, upper, value=0.0):
    """Pad the spatial dims of ``x`` the way ONNX auto_pad SAME_UPPER / SAME_LOWER does."""
    pads = []
    for i in reversed(range(len(kernel))):
        size = x.shape[2 + i]
        out = -(-size // strides[i])
        total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size)
        small = total // 2
        pads += [small, total - small] if upper else [total - small, small]
    return F.pad(x, pads, value=value)


def onnx_pool_pads(sizes, kernel, strides, dilations, pads, ceil, auto_pad):
    """(begin, end, extra) pads per spatial dim; ``extra`` is what ceil mode adds at the end."""
    n = len(kernel)
    if pads is None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(n):
            out = -(-sizes[i] // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - sizes[i])
            small = total // 2
            b, e = (small, total - small) if auto_pad != "SAME_LOWER" else (total - small, small)
            begin.append(b)
            end.append(e)
    else:
        begin, end = list(pads[:n]), list(pads[n:])
    extra = []
    for i in range(n):
        window = (kernel[i] - 1) * dilations[i] + 1
        span = sizes[i] + begin[i] + end[i] - window
        out = (-(-span // strides[i]) if ceil else span // strides[i]) + 1
        if ceil and (out - 1) * strides[i] >= sizes[i] + begin[i]:
            out -= 1
        extra.append((out - 1) * strides[i] + window - (sizes[i] + begin[i] + end[i]))
    return begin, end, extra


def pool_windows(x, kernel, strides, dilations, begin, end, extra, value, extra_value):
    """``x`` padded and unfolded into windows: (N, C, out..., k...)."""
    n = len(kernel)
    x = F.pad(x, [p for i in reversed(range(n)) for p in (begin[i], end[i])], value=value)
    x = F.pad(x, [p for i in reversed(range(n)) for p in (0, extra[i])], value=extra_value)
    for i in range(n):
        x = x.unfold(2 + i, (kernel[i] - 1) * dilations[i] + 1, strides[i])
        if dilations[i] > 1:
            x = x[..., :: dilations[i]]
    return x


def max_pool_onnx(x, kernel, strides, dilations, pads, ceil, auto_pad, storage_order):
    """ONNX MaxPool with any padding, ceil mode and dilation: (values, flat indices)."""
    n = len(kernel)
    sizes = list(x.shape[2:])
    begin, end, extra = onnx_pool_pads(sizes, kernel, strides, dilations, pads, ceil, auto_pad)
    win = pool_windows(x, kernel, strides, dilations, begin, end, extra, -math.inf, -math.inf)
    flat = win.reshape(*win.shape[: 2 + n], -1)
    values, arg = flat.max(dim=-1)
    plane = 1
    for s in sizes:
        plane *= s
    if storage_order:
        pos = torch.arange(plane, device=x.device).reshape(list(reversed(sizes))).permute(*reversed(range(n)))
    else:
        pos = torch.arange(plane, device=x.device).reshape(sizes)
    pos = pos.to(x.dtype if x.dtype == torch.float64 else torch.float64).reshape(1, 1, *sizes)
    pwin = pool_windows(pos, kernel, strides, dilations, begin, end, extra, -1.0, -1.0)
    pflat = pwin.reshape(*pwin.shape[: 2 + n], -1).expand(*flat.shape)
    idx = torch.gather(pflat, -1, arg.unsqueeze(-1)).squeeze(-1).long()
    offset = torch.arange(x.shape[0] * x.shape[1], device=x.device).reshape(x.shape[0], x.shape[1], *([1] * n))
    return values, idx + offset * plane


def max_pool_indices(result, x):
    """torch's per-plane pooling indices -> ONNX indices flattened over the whole input."""
    values, idx = result
    plane = 1
    for s in x.shape[2:]:
        plane *= s
    n = x.dim() - 2
    offset = torch.arange(x.shape[0] * x.shape[1], device=x.device).reshape(x.shape[0], x.shape[1], *([1] * n))
    return values, idx + offset * plane


def avg_pool_onnx(x, kernel, strides, dilations, pads, ceil, count_include_pad, auto_pad):
    """ONNX AveragePool with any padding, ceil mode and dilation."""
    n = len(kernel)
    sizes = list(x.shape[2:])
    begin, end, extra = onnx_pool_pads(sizes, kernel, strides, dilations, pads, ceil, auto_pad)
    dims = tuple(range(-n, 0))
    total = pool_windows(x, kernel, strides, dilations, begin, end, extra, 0.0, 0.0).sum(dim=dims)
    ones = torch.ones([1, 1, *sizes], dtype=x.dtype, device=x.device)
    fill = 1.0 if count_include_pad else 0.0
    count = pool_windows(ones, kernel, strides, dilations, begin, end, extra, fill, 0.0).sum(dim=dims)
    return total / count


def lp_pool_onnx(x, p, kernel, strides, dilations, pads, ceil, auto_pad):
    n = len(kernel)
    begin, end, extra = onnx_pool_pads(list(x.shape[2:]), kernel, strides, dilations, pads, ceil, auto_pad)
    win = pool_windows(x.abs().pow(p), kernel, strides, dilations, begin, end, extra, 0.0, 0.0)
    return win.sum(dim=tuple(range(-n, 0))).pow(1.0 / p)


def max_unpool_onnx(x, indices, kernel, strides, pads, output_shape):
    n = len(kernel)
    if output_shape is None:
        sizes = [(x.shape[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[n + i] for i in range(n)]
        output_shape = [x.shape[0], x.shape[1], *sizes]
    out = torch.zeros(int(math.prod(output_shape)), dtype=x.dtype, device=x.device)
    out = out.scatter(0, indices.reshape(-1), x.reshape(-1))
    return out.reshape(list(output_shape))


# ----------------------------------------------------------------- normalization
def layer_norm_onnx(x, scale, bias, axis, eps, stash_type):
    """ONNX LayerNormalization: (Y, Mean, InvStdDev)."""
    dtype = x.dtype
    if stash_type == 1:
        x = x.float() if dtype != torch.float64 else x
    dims = tuple(range(axis if axis >= 0 else x.dim() + axis, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    inv = torch.rsqrt(((x - mean) ** 2).mean(dim=dims, keepdim=True) + eps)
    y = ((x - mean) * inv).to(dtype) * scale
    if bias is not None:
        y = y + bias
    return y, mean, inv


# ----------------------------------------------------------------- shapes / indexing
def reshape_onnx(x, shape):
    """ONNX Reshape: a 0 keeps the input's dim."""
    return x.reshape([x.shape[i] if d == 0 else d for i, d in enumerate(shape)])


def unsqueeze_onnx(x, axes):
    rank = x.dim() + len(axes)
    for a in sorted(a + rank if a < 0 else a for a in axes):
        x = x.unsqueeze(a)
    return x


def slice_onnx(x, starts, ends, axes=None, steps=None):
    """ONNX Slice, negative steps included."""
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = a + x.dim() if a < 0 else a
        size = x.shape[a]
        if st > 0:
            s = min(max(s + size if s < 0 else s, 0), size)
            e = min(max(e + size if e < 0 else e, 0), size)
            x = x.narrow(a, s, max(e - s, 0))[(slice(None),) * a + (slice(None, None, st),)] if st != 1 \
                else x.narrow(a, s, max(e - s, 0))
        else:
            s = min(max(s + size if s < 0 else s, -1), size - 1)
            e = min(max(e + size if e < 0 else e, -1), size - 1)
            idx = torch.arange(s, e, st, device=x.device)
            x = x.index_select(a, idx)
    return x


def pad_onnx(x, pads, value, mode, axes=None):
    """ONNX Pad for any axes and mode (constant, reflect, edge, wrap)."""
    axes = list(range(x.dim())) if axes is None else [a + x.dim() if a < 0 else a for a in axes]
    k = len(axes)
    for i, a in enumerate(axes):
        b, e = pads[i], pads[k + i]
        if b == 0 and e == 0:
            continue
        size = x.shape[a]
        if mode == "constant":
            x = x.movedim(a, -1)
            x = F.pad(x, [b, e], value=value).movedim(-1, a)
            continue
        if b < 0 or e < 0:
            x = x.narrow(a, max(-b, 0), size - max(-b, 0) - max(-e, 0))
            size = x.shape[a]
            b, e = max(b, 0), max(e, 0)
        pos = torch.arange(-b, size + e, device=x.device)
        if mode == "edge":
            pos = pos.clamp(0, size - 1)
        elif mode == "wrap":
            pos = pos % size
        else:  # reflect
            period = 2 * (size - 1)
            pos = pos.abs() % period if period else pos * 0
            pos = torch.where(pos >= size, period - pos, pos)
        x = x.index_select(a, pos)
    return x


def gather_onnx(x, indices, axis):
    """ONNX Gather: negative indices count from the end."""
    axis = axis + x.dim() if axis < 0 else axis
    indices = indices.long()
    indices = torch.where(indices < 0, indices + x.shape[axis], indices)
    out = x.index_select(axis, indices.reshape(-1))
    return out.reshape(list(x.shape[:axis]) + list(indices.shape) + list(x.shape[axis + 1:]))


def gather_nd_onnx(x, indices, batch_dims):
    indices = indices.long()
    batch = list(x.shape[:batch_dims])
    nb = 1
    for d in batch:
        nb *= d
    k = indices.shape[-1]
    xb = x.reshape([nb] + list(x.shape[batch_dims:]))
    ib = indices.reshape([nb, -1, k])
    dims = xb.shape[1:1 + k]
    ib = torch.where(ib < 0, ib + torch.tensor(list(dims), device=x.device), ib)
    out = xb[(torch.arange(nb, device=x.device).unsqueeze(1),) + tuple(ib.unbind(-1))]
    return out.reshape(batch + list(indices.shape[batch_dims:-1]) + list(x.shape[batch_dims + k:]))


def scatter_nd_onnx(x, indices, updates, reduction):
    out = x.clone()
    idx = tuple(indices.long().unbind(-1))
    if reduction == "none":
        out[idx] = updates
    elif reduction == "add":
        out.index_put_(idx, updates, accumulate=True)
    else:
        flat = indices.reshape(-1, indices.shape[-1]).long()
        upd = updates.reshape(flat.shape[0], *updates.shape[indices.dim() - 1:])
        for i in range(flat.shape[0]):
            where = tuple(flat[i].tolist())
            if reduction == "mul":
                out[where] = out[where] * upd[i]
            elif reduction == "max":
                out[where] = torch.maximum(out[where], upd[i])
            else:
                out[where] = torch.minimum(out[where], upd[i])
    return out


def depth_to_space_dcr(x, b):
    n, c, h, w = x.shape
    return x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c // (b * b), h * b, w * b)


def space_to_depth(x, b):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4).reshape(n, c * b * b, h // b, w // b)


def reverse_sequence(x, lengths, batch_axis, time_axis):
    steps = x.shape[time_axis]
    t = torch.arange(steps, device=x.device).unsqueeze(batch_axis)
    lens = lengths.long().unsqueeze(time_axis)
    src = torch.where(t < lens, lens - 1 - t, t)
    shape = [1] * x.dim()
    shape[batch_axis], shape[time_axis] = x.shape[batch_axis], steps
    src = src.reshape(shape).expand(x.shape)
    return torch.gather(x, time_axis, src)


def center_crop_pad(x, shape, axes=None):
    axes = list(range(x.dim())) if axes is None else [a + x.dim() if a < 0 else a for a in axes]
    for a, size in zip(axes, shape):
        cur = x.shape[a]
        if cur > size:
            x = x.narrow(a, (cur - size) // 2, size)
        elif cur < size:
            b = (size - cur) // 2
            x = x.movedim(a, -1)
            x = F.pad(x, [b, size - cur - b]).movedim(-1, a)
    return x


def one_hot_onnx(indices, depth, values, axis):
    depth = int(depth)
    idx = indices.long()
    idx = torch.where(idx < 0, idx + depth, idx)
    hot = (idx.unsqueeze(-1) == torch.arange(depth, device=idx.device))
    out = torch.where(hot, values[1], values[0])
    rank = out.dim()
    return out.movedim(-1, axis if axis >= 0 else rank + axis)


# ----------------------------------------------------------------- reductions
def reduce_minmax_onnx(x, dims, keepdim, is_max):
    """ReduceMax / ReduceMin that also accept an empty reduced set (-inf / inf, as ONNX says)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if x.numel() == 0:
        shape = [1 if (i in dims or i - x.dim() in dims) else s for i, s in enumerate(x.shape)]
        fill = -math.inf if is_max else math.inf
        if not x.dtype.is_floating_point:
            info = torch.iinfo(x.dtype)
            fill = info.min if is_max else info.max
        out = torch.full(shape, fill, dtype=x.dtype, device=x.device)
        return out if keepdim else out.squeeze(dims) if dims else out
    return torch.amax(x, dim=dims, keepdim=keepdim) if is_max else torch.amin(x, dim=dims, keepdim=keepdim)


def reduce_prod(x, dims, keepdim):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    for d in sorted((d + x.dim() if d < 0 else d for d in dims), reverse=True):
        x = x.prod(dim=d, keepdim=keepdim)
    return x


def topk_onnx(x, k, axis, largest):
    """ONNX TopK: among equal values the lower index comes first."""
    values, indices = torch.sort(x, dim=axis, descending=largest, stable=True)
    return values.narrow(axis, 0, k), indices.narrow(axis, 0, k)


def cum_onnx(x, axis, exclusive, reverse, product):
    if reverse:
        x = x.flip(axis)
    y = torch.cumprod(x, axis) if product else torch.cumsum(x, axis)
    if exclusive:
        fill = torch.ones_like(x.narrow(axis, 0, 1)) if product else torch.zeros_like(x.narrow(axis, 0, 1))
        y = torch.cat([fill, y.narrow(axis, 0, x.shape[axis] - 1)], dim=axis)
    if y.dtype != x.dtype:
        y = y.to(x.dtype)
    return y.flip(axis) if reverse else y


def qlinear_matmul(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero):
    real = torch.matmul((a.double() - a_zero.double()) * a_scale.double(), (b.double() - b_zero.double()) * b_scale.double())
    q = torch.round(real / y_scale.double()) + y_zero.double()
    info = torch.iinfo(y_zero.dtype)
    return q.clamp(info.min, info.max).to(y_zero.dtype)

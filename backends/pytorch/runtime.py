"""Helper functions that emitted ``model.py`` files may need.

An op whose ONNX semantics have no one-line PyTorch spelling (asymmetric ceil-mode
pooling, GatherND, ONNX Resize coordinate modes ...) is emitted as a call to one of
these functions; the emitter copies the source of each helper it uses (and of the
helpers that one calls, see ``DEPENDS``) into ``model.py``, so the artifact never
imports mmconvert.  Every helper is plain torch code that ``torch.export`` can trace.
"""

from __future__ import annotations

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
    "quantize_linear": ("quant_params",),
    "dequantize_linear": ("quant_params",),
}


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


# ----------------------------------------------------------------- attention
def attention_onnx(q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, scale=None,
                   is_causal=False, q_num_heads=None, kv_num_heads=None, softcap=0.0, qk_mode=-1,
                   softmax_dtype=None, left_window=-1, right_window=-1):
    """ONNX Attention: (Y, present_key, present_value, qk_matmul_output)."""
    rank3 = q.dim() == 3
    if rank3:
        b = q.shape[0]
        q = q.reshape(b, q.shape[1], q_num_heads, -1).transpose(1, 2)
        k = k.reshape(b, k.shape[1], kv_num_heads, -1).transpose(1, 2)
        v = v.reshape(b, v.shape[1], kv_num_heads, -1).transpose(1, 2)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[3])
    root = math.sqrt(scale)
    present_key = k if past_key is None else torch.cat([past_key, k], dim=2)
    present_value = v if past_value is None else torch.cat([past_value, v], dim=2)
    k, v = present_key, present_value
    lq, lk = q.shape[2], k.shape[2]
    bias = torch.zeros(lq, lk, dtype=q.dtype, device=q.device)
    if attn_mask is not None and attn_mask.shape[-1] < lk:
        pad = lk - attn_mask.shape[-1]
        attn_mask = F.pad(attn_mask, [0, pad], value=False if attn_mask.dtype == torch.bool else -math.inf)
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        attn_mask = torch.where(attn_mask, 0.0, -math.inf).to(q.dtype)
    if nonpad_kv_seqlen is not None and past_key is None:
        offset = (nonpad_kv_seqlen.reshape(-1) - lq).reshape(-1, 1, 1, 1)
    else:
        offset = past_key.shape[2] if past_key is not None else 0
    i = torch.arange(lq, device=q.device).reshape(lq, 1)
    j = torch.arange(lk, device=q.device).reshape(1, lk)
    if is_causal:
        base = bias if attn_mask is None else attn_mask
        bias = base + torch.where(j <= i + offset, 0.0, -math.inf).to(q.dtype)
    elif attn_mask is not None:
        bias = bias + attn_mask
    if left_window >= 0 or right_window >= 0:
        diff = (i + offset) - j
        allowed = torch.ones_like(diff, dtype=torch.bool)
        if left_window >= 0:
            allowed = allowed & (diff <= left_window)
        if right_window >= 0:
            allowed = allowed & (-diff <= right_window)
        bias = bias + torch.where(allowed, 0.0, -math.inf).to(q.dtype)
    if nonpad_kv_seqlen is not None:
        keep = torch.arange(lk, device=q.device) < nonpad_kv_seqlen.reshape(-1, 1)
        bias = bias + torch.where(keep, 0.0, -math.inf).to(q.dtype).reshape(-1, 1, 1, lk)
    hq, hk = q.shape[1], k.shape[1]
    if hq != hk:
        k = k.repeat_interleave(hq // hk, dim=1)
        v = v.repeat_interleave(hq // hk, dim=1)
    qk = torch.matmul(q * root, k.transpose(-2, -1) * root)
    if softcap and softcap > 0:
        qk = torch.tanh(qk / softcap) * softcap
    with_bias = qk + bias
    out_qk = with_bias if qk_mode == 2 else qk
    scores = with_bias if softmax_dtype is None else with_bias.to(softmax_dtype)
    row_max = scores.amax(dim=-1, keepdim=True)
    masked = torch.isneginf(row_max)
    e = torch.exp(scores - torch.where(masked, 0.0, row_max))
    s = e.sum(dim=-1, keepdim=True)
    probs = e / torch.where(s == 0, 1.0, s)
    probs = torch.where(torch.isneginf(bias.amax(dim=-1, keepdim=True)), 0.0, probs)
    if qk_mode == 3:
        out_qk = probs
    probs = probs.to(q.dtype)
    y = torch.matmul(probs, v)
    if rank3:
        y = y.transpose(1, 2).reshape(y.shape[0], y.shape[2], -1)
    return y, present_key, present_value, out_qk.to(q.dtype)


def rotary_embedding_onnx(x, cos, sin, position_ids=None, interleaved=False, dim=0, num_heads=0):
    shape = x.shape
    if x.dim() == 4:
        x = x.transpose(1, 2)
    else:
        x = x.reshape(shape[0], shape[1], num_heads, -1)
    dim = dim or x.shape[3]
    rot, rest = x[..., :dim], x[..., dim:]
    if position_ids is not None:
        cos, sin = cos[position_ids.long()], sin[position_ids.long()]
    cos, sin = cos.unsqueeze(2), sin.unsqueeze(2)
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot.chunk(2, dim=-1)
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    if interleaved:
        rot = torch.stack([real, imag], dim=-1).reshape(rot.shape)
    else:
        rot = torch.cat([real, imag], dim=-1)
    out = torch.cat([rot, rest], dim=-1)
    return out.reshape(shape) if len(shape) == 3 else out.transpose(1, 2)


def linear_attention_onnx(q, k, v, past_state, decay, beta, q_heads, kv_heads, scale, rule):
    """ONNX LinearAttention (recurrent form): (output, present_state)."""
    b, t, _ = q.shape
    dk = q.shape[-1] // q_heads
    dv = v.shape[-1] // kv_heads
    group = q_heads // kv_heads
    out_dtype = q.dtype
    q4 = q.reshape(b, t, q_heads, dk).transpose(1, 2).float()
    k4 = k.reshape(b, t, kv_heads, dk).transpose(1, 2).float()
    v4 = v.reshape(b, t, kv_heads, dv).transpose(1, 2).float()
    if decay is not None:
        decay = decay.reshape(b, t, kv_heads, -1).transpose(1, 2).float()
    if beta is not None:
        beta = beta.reshape(b, t, beta.shape[-1], 1).transpose(1, 2).float()
    state_dtype = out_dtype if past_state is None else past_state.dtype
    state = torch.zeros(b, kv_heads, dk, dv, device=q.device) if past_state is None else past_state.float()
    scale = scale if scale else 1.0 / math.sqrt(dk)
    outs = []
    for i in range(t):
        k_t, v_t = k4[:, :, i], v4[:, :, i]
        if rule in ("gated", "gated_delta"):
            state = state * torch.exp(decay[:, :, i]).unsqueeze(-1)
        if rule in ("delta", "gated_delta"):
            v_t = beta[:, :, i] * (v_t - torch.einsum("bhdm,bhd->bhm", state, k_t))
        state = state + k_t.unsqueeze(-1) * v_t.unsqueeze(-2)
        read = state if group == 1 else state.repeat_interleave(group, dim=1)
        outs.append(scale * torch.einsum("bhd,bhdm->bhm", q4[:, :, i], read))
    out = torch.stack(outs, dim=2).transpose(1, 2).reshape(b, t, q_heads * dv)
    return out.to(out_dtype), state.to(state_dtype)


def causal_conv_with_state(x, weight, bias, past_state, activation):
    """ONNX CausalConvWithState: depthwise causal conv1d carrying its left context."""
    k = weight.shape[2]
    if past_state is None:
        past_state = torch.zeros(x.shape[0], x.shape[1], k - 1, dtype=x.dtype, device=x.device)
    padded = torch.cat([past_state, x], dim=2)
    y = F.conv1d(padded, weight, bias, groups=x.shape[1])
    if activation in ("silu", "swish"):
        y = F.silu(y.float()).to(x.dtype)
    return y, padded[:, :, padded.shape[2] - (k - 1):]


def tensor_scatter(cache, update, write_indices, mode, axis):
    """ONNX TensorScatter: write ``update`` into ``cache`` along ``axis`` at per-batch offsets."""
    axis = axis % cache.dim()
    length, steps = cache.shape[axis], update.shape[axis]
    if write_indices is None:
        write_indices = torch.zeros(cache.shape[0], dtype=torch.long, device=cache.device)
    pos = write_indices.long().reshape(-1, 1) + torch.arange(steps, device=cache.device).reshape(1, -1)
    if mode == "circular":
        pos = pos % length
    shape = [1] * cache.dim()
    shape[0], shape[axis] = cache.shape[0], steps
    index = pos.reshape(shape).expand(update.shape)
    return cache.scatter(axis, index, update)


# ----------------------------------------------------------------- misc
def unique_onnx(x, axis, sort):
    """ONNX Unique: (Y, indices of first occurrences, inverse indices, counts)."""
    flat = x.reshape(-1) if axis is None else x.movedim(axis, 0)
    y, inverse, counts = torch.unique(flat, sorted=True, return_inverse=True, return_counts=True, dim=0)
    n = flat.shape[0]
    pos = torch.arange(n, device=x.device)
    first = torch.full((y.shape[0],), n, dtype=torch.long, device=x.device).scatter_reduce(0, inverse, pos, "amin")
    if not sort:
        order = torch.argsort(first)
        rank = torch.empty_like(order).scatter_(0, order, torch.arange(order.shape[0], device=x.device))
        y, first, counts, inverse = y[order], first[order], counts[order], rank[inverse]
    if axis is not None:
        y = y.movedim(0, axis)
    return y, first, inverse.reshape(-1), counts


def nms_onnx(boxes, scores, max_out, iou_threshold, score_threshold, center_point_box):
    """ONNX NonMaxSuppression: [num_selected, 3] rows of (batch, class, box)."""
    max_out = int(max_out) if max_out is not None else 0
    iou_threshold = float(iou_threshold) if iou_threshold is not None else 0.0
    result = []
    for b in range(scores.shape[0]):
        bx = boxes[b].float()
        if center_point_box:
            xc, yc, w, h = bx.unbind(-1)
            y1, x1, y2, x2 = yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
        else:
            y1, x1, y2, x2 = bx.unbind(-1)
            y1, y2 = torch.minimum(y1, y2), torch.maximum(y1, y2)
            x1, x2 = torch.minimum(x1, x2), torch.maximum(x1, x2)
        area = (y2 - y1) * (x2 - x1)
        for c in range(scores.shape[1]):
            s = scores[b, c]
            order = torch.argsort(s, descending=True, stable=True).tolist()
            keep = []
            for i in order:
                if score_threshold is not None and float(s[i]) <= float(score_threshold):
                    continue
                if len(keep) >= max_out:
                    break
                ok = True
                for j in keep:
                    ih = (torch.minimum(y2[i], y2[j]) - torch.maximum(y1[i], y1[j])).clamp(min=0)
                    iw = (torch.minimum(x2[i], x2[j]) - torch.maximum(x1[i], x1[j])).clamp(min=0)
                    inter = ih * iw
                    union = area[i] + area[j] - inter
                    if union > 0 and float(inter / union) > iou_threshold:
                        ok = False
                        break
                if ok:
                    keep.append(i)
            result += [[b, c, i] for i in keep]
    return torch.tensor(result, dtype=torch.long).reshape(-1, 3)


def quant_params(x, scale, zero_point, axis, block_size):
    """Scale and zero point broadcast against x: per axis (1-D) or per block."""
    if scale.dim() == 1 and x.dim() > 1 and scale.numel() > 1:
        shape = [1] * x.dim()
        shape[axis] = -1
        scale = scale.reshape(shape)
        zero_point = zero_point.reshape(shape) if zero_point is not None else None
    elif block_size and scale.dim() == x.dim():
        scale = scale.repeat_interleave(block_size, dim=axis).narrow(axis, 0, x.shape[axis])
        if zero_point is not None:
            zero_point = zero_point.repeat_interleave(block_size, dim=axis).narrow(axis, 0, x.shape[axis])
    return scale, zero_point


def quantize_linear(x, scale, zero_point, axis, dtype, block_size=0):
    scale, zero_point = quant_params(x, scale, zero_point, axis, block_size)
    q = torch.round(x.float() / scale.float())
    if zero_point is not None:
        q = q + zero_point.float()
    if dtype.is_floating_point:
        return q.to(dtype)
    info = torch.iinfo(dtype)
    return q.clamp(info.min, info.max).to(dtype)


def dequantize_linear(x, scale, zero_point, axis, block_size=0):
    scale, zero_point = quant_params(x, scale, zero_point, axis, block_size)
    y = x.float()
    if zero_point is not None:
        y = y - zero_point.float()
    return (y * scale.float()).to(scale.dtype)


def dynamic_quantize_linear(x):
    lo = torch.clamp(x.min(), max=0.0)
    hi = torch.clamp(x.max(), min=0.0)
    scale = (hi - lo) / 255.0
    zero = torch.round(torch.clamp(-lo / scale, 0, 255))
    q = torch.clamp(torch.round(x / scale) + zero, 0, 255)
    return q.to(torch.uint8), scale, zero.to(torch.uint8)


def grid_sample_onnx(x, grid, mode, padding_mode, align_corners):
    """ONNX GridSample for 4-D input with torch's kernels; cubic maps to bicubic."""
    mode = {"linear": "bilinear", "cubic": "bicubic", "nearest": "nearest"}.get(mode, mode)
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)


# ----------------------------------------------------------------- resize
def resize_coords(out_size, in_size, scale, mode, roi_start, roi_end):
    """Source coordinate of every output index along one axis (ONNX Resize)."""
    y = torch.arange(out_size, dtype=torch.float64)
    width = scale * in_size
    if mode == "align_corners":
        return y * 0 if width == 1 else y * (in_size - 1) / (width - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        if width == 1:
            return y * 0 + (roi_end - roi_start) * (in_size - 1) / 2 + roi_start * (in_size - 1)
        return y * (roi_end - roi_start) * (in_size - 1) / (width - 1) + roi_start * (in_size - 1)
    if mode == "pytorch_half_pixel":
        return y * 0 - 0.5 if width == 1 else (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = in_size / 2 * (1 - out_size / width)
        return offset + (y + 0.5) / scale - 0.5
    return (y + 0.5) / scale - 0.5


def resize_onnx(x, roi, scales, sizes, mode="nearest", coord_mode="half_pixel", nearest_mode="round_prefer_floor",
                cubic_a=-0.75, exclude_outside=False, extrapolation=0.0, antialias=False, axes=None,
                policy="stretch"):
    """ONNX Resize, every mode: separable, one axis at a time."""
    r = x.dim()
    axes = list(range(r)) if axes is None else [a + r if a < 0 else a for a in axes]
    in_shape = list(x.shape)
    if sizes is not None:
        out = [int(s) for s in sizes]
        factors = [out[i] / in_shape[a] for i, a in enumerate(axes)]
        if policy != "stretch":
            s = min(factors) if policy == "not_larger" else max(factors)
            factors = [s] * len(axes)
            out = [int(s * in_shape[a] + 0.5) for a in axes]
    else:
        factors = [float(s) for s in scales]
        out = [int(f * in_shape[a]) for f, a in zip(factors, axes)]
    n = len(axes)
    roi = None if roi is None or roi.numel() == 0 else [float(v) for v in roi.reshape(-1)]
    y = x if x.dtype == torch.float64 else x.double()
    for i, a in enumerate(axes):
        size, scale, length = out[i], factors[i], in_shape[a]
        if size == length and scale == 1.0 and (roi is None or (roi[i] == 0 and roi[n + i] == 1)):
            continue
        rs, re = (roi[i], roi[n + i]) if roi is not None else (0.0, 1.0)
        coord = resize_coords(size, length, scale, coord_mode, rs, re)
        if mode == "nearest":
            if nearest_mode == "round_prefer_ceil":
                idx = torch.floor(coord + 0.5)
            elif nearest_mode == "floor":
                idx = torch.floor(coord)
            elif nearest_mode == "ceil":
                idx = torch.ceil(coord)
            else:
                idx = torch.ceil(coord - 0.5)
            y = y.index_select(a, idx.clamp(0, length - 1).long().to(x.device))
        else:
            base = torch.floor(coord)
            base = torch.where(base == coord, base - 1, base)
            ratio = coord - base
            sc = min(scale, 1.0) if antialias else 1.0
            if mode == "cubic":
                start = math.floor(-2 / sc) + 1
            else:
                start = math.floor(-1 / sc) + 1
            offsets = torch.arange(start, 2 - start, dtype=torch.float64)
            t = ((offsets.reshape(1, -1) - ratio.reshape(-1, 1)) * sc).abs()
            if mode == "cubic":
                A = cubic_a
                w = torch.where(t <= 1, (A + 2) * t ** 3 - (A + 3) * t ** 2 + 1,
                                torch.where(t < 2, A * t ** 3 - 5 * A * t ** 2 + 8 * A * t - 4 * A, t * 0))
            else:
                w = (1 - t).clamp(min=0)
            taps = base.reshape(-1, 1) + offsets.reshape(1, -1)
            if exclude_outside:
                w = torch.where((taps < 0) | (taps > length - 1), 0.0, w)
            w = w / w.sum(dim=1, keepdim=True)
            matrix = torch.zeros(size, length, dtype=torch.float64)
            matrix.scatter_add_(1, taps.clamp(0, length - 1).long(), w)
            y = torch.matmul(y.movedim(a, -1), matrix.t().to(y.device)).movedim(-1, a)
        if coord_mode == "tf_crop_and_resize":
            outside = ((coord < 0) | (coord > length - 1)).to(x.device)
            shape = [1] * r
            shape[a] = size
            y = torch.where(outside.reshape(shape), extrapolation, y)
    return y if y.dtype == x.dtype else y.to(x.dtype)


# ----------------------------------------------------------------- recurrent
def rnn_activation(name, alpha, beta):
    """An ONNX RNN activation by name (with its alpha/beta) as a function."""
    name = name.lower()
    if name == "sigmoid":
        return torch.sigmoid
    if name == "tanh":
        return torch.tanh
    if name == "relu":
        return torch.relu
    if name == "hardsigmoid":
        return lambda x: torch.clamp(alpha * x + beta, 0, 1)
    if name == "leakyrelu":
        return lambda x: F.leaky_relu(x, alpha)
    if name == "thresholdedrelu":
        return lambda x: torch.where(x > alpha, x, 0.0)
    if name == "scaledtanh":
        return lambda x: alpha * torch.tanh(beta * x)
    if name == "affine":
        return lambda x: alpha * x + beta
    if name == "elu":
        return lambda x: F.elu(x, alpha)
    if name == "softsign":
        return F.softsign
    if name == "softplus":
        return F.softplus
    raise ValueError(f"unknown RNN activation {name}")


def recurrent_onnx(kind, x, w, r, b, lens, h0, c0, p, hidden, direction, acts, clip, linear_before_reset, layout):
    """ONNX RNN / GRU / LSTM, every direction, optional input and attribute: (Y, Y_h, Y_c)."""
    if layout:
        x = x.transpose(0, 1)
    steps, batch = x.shape[0], x.shape[1]
    dirs = 2 if direction == "bidirectional" else 1
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]
    n_act = {"RNN": 1, "GRU": 2, "LSTM": 3}[kind]
    if lens is None:
        lens = torch.full((batch,), steps, dtype=torch.long)
    lens = lens.long()
    t_idx = torch.arange(steps).reshape(steps, 1)
    ys, hs, cs = [], [], []
    for d in range(dirs):
        f = acts[d * n_act:(d + 1) * n_act]
        wd, rd = w[d], r[d]
        bd = b[d] if b is not None else torch.zeros(2 * gates * hidden, dtype=x.dtype)
        wb, rb = bd[: gates * hidden], bd[gates * hidden:]
        h = h0[d] if h0 is not None else torch.zeros(batch, hidden, dtype=x.dtype)
        cell = c0[d] if c0 is not None else torch.zeros(batch, hidden, dtype=x.dtype)
        pd = p[d] if p is not None else torch.zeros(3 * hidden, dtype=x.dtype)
        reverse = direction == "reverse" or d == 1
        # per batch, step t reads input index lens-1-t when running backwards
        src = torch.where(t_idx < lens, lens - 1 - t_idx, t_idx) if reverse else t_idx.expand(steps, batch)
        xs = torch.gather(x, 0, src.unsqueeze(-1).expand(steps, batch, x.shape[2]))
        proj = torch.matmul(xs, wd.t()) + wb
        out = []
        for t in range(steps):
            gx = proj[t]
            live = (t < lens).unsqueeze(-1)
            if kind == "LSTM":
                g = gx + h @ rd.t() + rb
                gi, go, gf, gc = g.chunk(4, dim=-1)
                pi, po, pf = pd.chunk(3)
                gi, gf = gi + pi * cell, gf + pf * cell
                if clip:
                    gi, gf, gc = gi.clamp(-clip, clip), gf.clamp(-clip, clip), gc.clamp(-clip, clip)
                i_t, f_t, c_t = f[0](gi), f[0](gf), f[1](gc)
                new_c = f_t * cell + i_t * c_t
                go = go + po * new_c
                if clip:
                    go = go.clamp(-clip, clip)
                new_h = f[0](go) * f[2](new_c)
                cell = torch.where(live, new_c, cell)
            elif kind == "GRU":
                wz, wr_, wh = gx.chunk(3, dim=-1)
                rz, rr, rh = rd.chunk(3, dim=0)
                bz, br, bh = rb.chunk(3)
                zt = wz + h @ rz.t() + bz
                rt = wr_ + h @ rr.t() + br
                if clip:
                    zt, rt = zt.clamp(-clip, clip), rt.clamp(-clip, clip)
                zt, rt = f[0](zt), f[0](rt)
                if linear_before_reset:
                    ht = wh + rt * (h @ rh.t() + bh)
                else:
                    ht = wh + (rt * h) @ rh.t() + bh
                if clip:
                    ht = ht.clamp(-clip, clip)
                new_h = (1 - zt) * f[1](ht) + zt * h
            else:
                g = gx + h @ rd.t() + rb
                if clip:
                    g = g.clamp(-clip, clip)
                new_h = f[0](g)
            h = torch.where(live, new_h, h)
            out.append(torch.where(live, new_h, torch.zeros_like(new_h)))
        y = torch.stack(out)
        if reverse:
            y = torch.gather(y, 0, src.unsqueeze(-1).expand(steps, batch, hidden))
            y = torch.where((t_idx < lens).unsqueeze(-1), y, torch.zeros_like(y))
        ys.append(y)
        hs.append(h)
        cs.append(cell)
    y = torch.stack(ys, dim=1)
    y_h, y_c = torch.stack(hs), torch.stack(cs)
    if layout:
        return y.permute(2, 0, 1, 3), y_h.transpose(0, 1), y_c.transpose(0, 1)
    return y, y_h, y_c


def deform_conv_onnx(x, w, offset, b, mask, strides, pads, dilations, group, offset_group):
    """ONNX DeformConv (2-D): bilinear samples at the offset kernel taps, then a grouped conv."""
    n, c, ih, iw = x.shape
    oc, _, kh, kw = w.shape
    oh, ow = offset.shape[-2:]
    off = offset.reshape(n, offset_group, kh, kw, 2, oh, ow)
    if mask is None:
        mask = torch.ones(n, offset_group, kh, kw, oh, ow, dtype=x.dtype)
    mask = mask.reshape(n, offset_group, 1, kh, kw, oh, ow)
    rows = (torch.arange(oh) * strides[0] - pads[0]).reshape(1, 1, 1, 1, oh, 1) \
        + (torch.arange(kh) * dilations[0]).reshape(1, 1, kh, 1, 1, 1) + off[:, :, :, :, 0]
    cols = (torch.arange(ow) * strides[1] - pads[1]).reshape(1, 1, 1, 1, 1, ow) \
        + (torch.arange(kw) * dilations[1]).reshape(1, 1, 1, kw, 1, 1) + off[:, :, :, :, 1]
    grid = torch.stack([cols / (iw - 1) * 2 - 1, rows / (ih - 1) * 2 - 1], dim=-1).to(x.dtype)
    grid = grid.reshape(n * offset_group, kh * kw * oh, ow, 2)
    taps = F.grid_sample(x.reshape(n * offset_group, c // offset_group, ih, iw), grid, mode="bilinear",
                         padding_mode="zeros", align_corners=True)
    taps = taps.reshape(n, offset_group, c // offset_group, kh, kw, oh, ow) * mask
    taps = taps.reshape(n, group, c // group, kh, kw, oh, ow)
    y = torch.einsum("ngckhij,gockh->ngoij", taps, w.reshape(group, oc // group, c // group, kh, kw))
    y = y.reshape(n, oc, oh, ow)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def batch_norm_training(x, scale, bias, mean, var, eps, momentum):
    """ONNX BatchNormalization with training_mode=1: (Y, running_mean, running_var) from batch statistics."""
    dims = [0] + list(range(2, x.dim()))
    batch_mean = x.mean(dim=dims)
    batch_var = x.var(dim=dims, unbiased=False)
    shape = [1, -1] + [1] * (x.dim() - 2)
    y = (x - batch_mean.reshape(shape)) / torch.sqrt(batch_var.reshape(shape) + eps) * scale.reshape(shape) \
        + bias.reshape(shape)
    return y, mean * momentum + batch_mean * (1 - momentum), var * momentum + batch_var * (1 - momentum)

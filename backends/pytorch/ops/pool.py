"""Pooling: MaxPool, AveragePool, LpPool, their global forms, MaxUnpool."""

from __future__ import annotations

from ..dialect import NodeCtx, lit
from ..registry import register
from .conv import spatial_pads, torch_pad

_FLOATS = ("float32", "float64", "float16", "bfloat16")


def _geometry(c: NodeCtx):
    kernel = list(c.attr("kernel_shape"))
    n = len(kernel)
    strides = list(c.attr("strides", [1] * n))
    dilations = list(c.attr("dilations", [1] * n))
    return n, kernel, strides, dilations


def _fits(kernel, pads, dilations) -> bool:
    """torch's pooling takes symmetric padding up to half the (dilated) kernel."""
    return all(p <= ((k - 1) * d + 1) // 2 for k, p, d in zip(kernel, pads, dilations))


@register("MaxPool")
def max_pool(c: NodeCtx) -> None:
    n, kernel, strides, dilations = _geometry(c)
    if n not in (1, 2, 3):
        c.fail(f"{n}-D pooling")
    ceil = bool(c.attr("ceil_mode", 0))
    x = c.x(0)
    dt = c.dtype(0)
    cast = dt not in _FLOATS
    if cast:
        x = f"{x}.double()" if dt in ("int32", "int64", "uint32", "uint64") else f"{x}.float()"
    pads = spatial_pads(c, n, kernel, strides, dilations)
    want_idx = len(c.node.outputs) > 1 and bool(c.node.outputs[1]) and c.node.outputs[1] in c.used_outputs()
    if pads is None or want_idx and (pads[0] != pads[1] or not _fits(kernel, pads[0], dilations)) \
            or c.attr("storage_order", 0) or ceil and pads[0] != pads[1] or ceil and not _fits(kernel, pads[0], dilations):
        h = c.helper("max_pool_onnx")
        p = "None" if pads is None else lit(list(pads[0]) + list(pads[1]))
        expr = (f"{h}({x}, {kernel}, {strides}, {dilations}, {p}, {ceil}, {c.attr('auto_pad', 'NOTSET')!r}, "
                f"{int(c.attr('storage_order', 0))})")
        if want_idx:
            c.outs(expr if not cast else f"(lambda r: (r[0].to({_dt(dt)}), r[1]))({expr})")
        else:
            c.out(f"{expr}[0]" + (f".to({_dt(dt)})" if cast else ""))
        return
    begin, end = pads
    sym = begin
    if not ceil and not want_idx and _end_pad_is_ceil_mode(c, kernel, strides, dilations, begin, end):
        # end-only padding that only completes the last window: torch's ceil_mode, no copy
        begin, end, ceil = [0] * n, [0] * n, True
        sym = begin
    if begin != end or not _fits(kernel, begin, dilations):
        x = f"F.pad({x}, {torch_pad(begin, end)}, value=-math.inf)"
        sym = [0] * n
    args = [x, f"{tuple(kernel)}", f"{tuple(strides)}"]
    if any(sym) or any(d != 1 for d in dilations) or ceil or want_idx:
        args.append(f"{tuple(sym)}")
    if any(d != 1 for d in dilations) or ceil or want_idx:
        args.append(f"{tuple(dilations)}")
    if ceil:
        args.append("ceil_mode=True")
    if want_idx:
        h = c.helper("max_pool_indices")
        c.outs(f"{h}(F.max_pool{n}d({', '.join(args)}, return_indices=True), {c.x(0)})")
        return
    expr = f"F.max_pool{n}d({', '.join(args)})"
    if cast:
        expr += f".to({_dt(dt)})"
    c.out(expr)


def _end_pad_is_ceil_mode(c: NodeCtx, kernel, strides, dilations, begin, end) -> bool:
    """Whether max pooling with -inf end padding equals ceil_mode=True without padding."""
    shape = c.shape(0)
    if any(begin) or not any(end) or shape is None or not all(isinstance(d, int) for d in shape[2:]):
        return False
    for i, size in enumerate(shape[2:]):
        window = (kernel[i] - 1) * dilations[i] + 1
        padded = (size + end[i] - window) // strides[i] + 1
        ceil_out = -(-(size - window) // strides[i]) + 1
        if (ceil_out - 1) * strides[i] >= size:
            ceil_out -= 1
        if padded != ceil_out or size < window:
            return False
    return True


def _dt(name):
    from ..dialect import torch_dtype

    return torch_dtype(name)


@register("AveragePool")
def average_pool(c: NodeCtx) -> None:
    n, kernel, strides, dilations = _geometry(c)
    if n not in (1, 2, 3):
        c.fail(f"{n}-D pooling")
    ceil = bool(c.attr("ceil_mode", 0))
    include = bool(c.attr("count_include_pad", 0))
    pads = spatial_pads(c, n, kernel, strides, dilations)
    x = c.x(0)
    if pads is not None and pads[0] == pads[1] and _fits(kernel, pads[0], [1] * n) and all(d == 1 for d in dilations) \
            and not (ceil and include):
        args = [x, f"{tuple(kernel)}", f"{tuple(strides)}"]
        if any(pads[0]) or ceil:
            args.append(f"{tuple(pads[0])}")
        if ceil:
            args.append("ceil_mode=True")
        if any(pads[0]) and not include:
            args.append("count_include_pad=False")
        c.out(f"F.avg_pool{n}d({', '.join(args)})")
        return
    h = c.helper("avg_pool_onnx")
    p = "None" if pads is None else lit(list(pads[0]) + list(pads[1]))
    c.out(f"{h}({x}, {kernel}, {strides}, {dilations}, {p}, {ceil}, {include}, {c.attr('auto_pad', 'NOTSET')!r})")


@register("LpPool", since=11)
def lp_pool(c: NodeCtx) -> None:
    n, kernel, strides, dilations = _geometry(c)
    p = int(c.attr("p", 2))
    pads = spatial_pads(c, n, kernel, strides, dilations)
    h = c.helper("lp_pool_onnx")
    pp = "None" if pads is None else lit(list(pads[0]) + list(pads[1]))
    c.out(f"{h}({c.x(0)}, {p}, {kernel}, {strides}, {dilations}, {pp}, {bool(c.attr('ceil_mode', 0))}, "
          f"{c.attr('auto_pad', 'NOTSET')!r})")


def _spatial_dims(c: NodeCtx) -> str:
    r = c.rank(0)
    if r is None:
        return f"tuple(range(2, {c.x(0)}.dim()))"
    return repr(tuple(range(2, r)))


@register("GlobalAveragePool")
def global_avg(c: NodeCtx) -> None:
    c.out(f"{c.x(0)}.mean(dim={_spatial_dims(c)}, keepdim=True)")


@register("GlobalMaxPool")
def global_max(c: NodeCtx) -> None:
    c.out(f"{c.x(0)}.amax(dim={_spatial_dims(c)}, keepdim=True)")


@register("GlobalLpPool", since=2)
def global_lp(c: NodeCtx) -> None:
    c.out(f"torch.linalg.vector_norm({c.x(0)}, {int(c.attr('p', 2))}, dim={_spatial_dims(c)}, keepdim=True)")


@register("MaxUnpool", since=11)
def max_unpool(c: NodeCtx) -> None:
    h = c.helper("max_unpool_onnx")
    n = len(c.attr("kernel_shape"))
    out_shape = c.ints(2) if c.has(2) else "None"
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {list(c.attr('kernel_shape'))}, {list(c.attr('strides', [1] * n))}, "
          f"{list(c.attr('pads', [0] * 2 * n))}, {out_shape})")

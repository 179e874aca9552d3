"""ONNX window geometry that every code-emitting backend needs: what ``auto_pad``/``pads``
and ``ceil_mode`` mean for a convolution or pooling window over given spatial sizes.

Pure arithmetic on Python ints, evaluated at conversion time; a size that is unknown
until run time makes the answer None when the answer depends on it.
"""

from __future__ import annotations


def same_pads(size: int, kernel: int, stride: int, dilation: int, upper: bool) -> tuple[int, int]:
    """(begin, end) padding of one dim for auto_pad SAME_UPPER (extra at the end) or SAME_LOWER."""
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size)
    small, big = total // 2, total - total // 2
    return (small, big) if upper else (big, small)


def auto_pads(auto_pad: str | None, pads, sizes, kernel, strides, dilations) -> tuple[list[int], list[int]] | None:
    """(begin pads, end pads) per spatial dim; None when they depend on a size not known
    (``sizes`` holds None for a dim known only at run time)."""
    n = len(kernel)
    if auto_pad in ("NOTSET", "", None):
        pads = list(pads or [0] * 2 * n)
        return pads[:n], pads[n:]
    if auto_pad == "VALID":
        return [0] * n, [0] * n
    if sizes is None or any(not isinstance(s, int) for s in sizes):
        return None
    both = [same_pads(s, k, st, d, auto_pad == "SAME_UPPER") for s, k, st, d in zip(sizes, kernel, strides, dilations)]
    return [b for b, _ in both], [e for _, e in both]


def ceil_extra(sizes, kernel, strides, dilations, begin, end) -> list[int] | None:
    """What ``ceil_mode`` adds at the end of each spatial dim so that the last (partial)
    window exists; a window that would start in the end padding is dropped (ONNX Runtime's
    rule).  None when a size is unknown."""
    if sizes is None or any(not isinstance(s, int) for s in sizes):
        return None
    extra = []
    for i, size in enumerate(sizes):
        window = (kernel[i] - 1) * dilations[i] + 1
        span = size + begin[i] + end[i] - window
        out = -(-span // strides[i]) + 1
        if (out - 1) * strides[i] >= size + begin[i]:
            out -= 1
        extra.append(max(0, (out - 1) * strides[i] + window - (size + begin[i] + end[i])))
    return extra


def transpose_pads(sizes, kernel, strides, dilations, pads, output_padding, output_shape, auto_pad):
    """ConvTranspose: (begin crop, end crop, output padding) per spatial dim, or None when a
    size it needs is unknown.  The full (uncropped) output of a dim is
    ``stride * (size - 1) + dilated kernel``; ONNX crops ``begin``/``end`` from it and adds
    ``output_padding`` at the end."""
    n = len(kernel)
    out_pad = list(output_padding or [0] * n)
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if sizes is None or any(not isinstance(s, int) for s in sizes):
            return None
        target = list(output_shape)[-n:] if output_shape is not None else [s * st for s, st in zip(sizes, strides)]
        begin, end = [], []
        for i in range(n):
            total = strides[i] * (sizes[i] - 1) + out_pad[i] + ((kernel[i] - 1) * dilations[i] + 1) - target[i]
            if total < 0:
                out_pad[i] -= total
                total = 0
            small, big = total // 2, total - total // 2
            b, e = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
            begin.append(b)
            end.append(e)
        return begin, end, out_pad
    if auto_pad == "VALID":
        return [0] * n, [0] * n, out_pad
    pads = list(pads or [0] * 2 * n)
    return pads[:n], pads[n:], out_pad

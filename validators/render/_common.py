"""Formatting and lookups shared by the renderers (kept free of rich/xml/html imports)."""

from __future__ import annotations

import math
from typing import Any

from ..report import LayerReport, OutputReport, ParityReport

DASH = "—"


def fmt_num(x: Any, digits: int = 3) -> str:
    """A metric as text: ``nan``, ``inf``, ``0``, or ``digits`` significant digits."""
    if x is None:
        return DASH
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def fmt_cosine(x: Any) -> str:
    if x is None:
        return DASH
    v = float(x)
    if not math.isfinite(v):
        return fmt_num(v)
    text = f"{v:.6f}"
    if text == "1.000000" and v < 1.0:  # do not show a near miss as exactly 1
        return ">0.999999"
    return text


def fmt_pct(fraction: Any) -> str:
    if fraction is None:
        return DASH
    v = float(fraction)
    if not math.isfinite(v):
        return fmt_num(v)
    if v == 0:
        return "0%"
    return f"{v * 100:.3g}%"


def fmt_shape(shape: list | None) -> str:
    if shape is None:
        return DASH
    if len(shape) == 0:
        return "scalar"
    return "×".join(str(d) for d in shape)


def shape_text(o: OutputReport) -> str:
    ref = fmt_shape(o.shape)
    if o.candidate_shape is not None and o.shape is not None and list(o.candidate_shape) != list(o.shape):
        return f"{ref} → {fmt_shape(o.candidate_shape)}"
    return ref


def dtype_text(o: OutputReport) -> str:
    ref = o.dtype or DASH
    if o.candidate_dtype and o.dtype and o.candidate_dtype != o.dtype:
        return f"{ref} → {o.candidate_dtype}"
    return ref


def is_compared(o: OutputReport) -> bool:
    """Excluded outputs (random ops) carry no meaningful metrics."""
    return o.status != "excluded"


def first_divergent_position(report: ParityReport) -> int | None:
    """Position in ``report.layers`` of the first divergent node's row (None when there is none)."""
    layers = report.layers
    if not layers:
        return None
    fd = report.first_divergent
    if fd:
        tensor, node = fd.get("tensor"), fd.get("node")
        for i, layer in enumerate(layers):
            if layer.tensor == tensor and (node is None or layer.node == node):
                return i
        for i, layer in enumerate(layers):
            if layer.node == node:
                return i
    for i, layer in enumerate(layers):
        if layer.status == "fail":
            return i
    return None


def first_divergent_info(report: ParityReport) -> dict[str, Any] | None:
    """``report.first_divergent``, or one derived from the first failing layer when it is unset."""
    if report.first_divergent:
        return dict(report.first_divergent)
    pos = first_divergent_position(report)
    if pos is None:
        return None
    layer = report.layers[pos]
    return {"node": layer.node, "op_type": layer.op_type, "tensor": layer.tensor, "index": layer.index,
            "max_abs": layer.max_abs, "max_rel": layer.max_rel, "input_max_abs": layer.input_max_abs}


def layer_window(report: ParityReport, before: int = 3, after: int = 3) -> tuple[list[LayerReport], int | None]:
    """The layers around the first divergent one (or the first few when none diverged) and
    the divergent one's position inside the returned slice."""
    pos = first_divergent_position(report)
    if pos is None:
        return report.layers[: before + after + 1], None
    lo = max(0, pos - before)
    return report.layers[lo: pos + after + 1], pos - lo


def counts(report: ParityReport) -> dict[str, int]:
    c = {"pass": 0, "fail": 0, "error": 0, "excluded": 0}
    for o in report.outputs:
        c[o.status if o.status in c else "error"] += 1
    return c


def verdict(report: ParityReport) -> str:
    """One line: PASS/FAIL and why."""
    c = counts(report)
    compared = len(report.outputs) - c["excluded"]
    excluded = f", {c['excluded']} excluded" if c["excluded"] else ""
    if report.passed:
        return f"PASS: {compared} of {compared} compared outputs match{excluded}"
    bad = [o for o in report.outputs if o.status in ("fail", "error")]
    if not bad:
        return f"FAIL: no output is marked failing ({compared} compared{excluded})"
    worst = max(bad, key=lambda o: _sortable(o.max_abs))
    parts = [f"FAIL: {len(bad)} of {compared} compared outputs differ{excluded}"]
    parts.append(f"worst {worst.name!s}: max abs {fmt_num(worst.max_abs)}")
    if worst.status == "fail" and worst.min_atol and math.isfinite(worst.min_atol):
        parts.append(f"passes with atol ≥ {fmt_num(worst.min_atol)} (rtol {fmt_num(worst.rtol)})")
    return "; ".join(parts)


def _sortable(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return -1.0
    return math.inf if math.isnan(v) else v


def failure_summary(o: OutputReport) -> str:
    """A one-line reason for a failing output (used by JUnit and HTML)."""
    if o.status == "error":
        return o.message or "the output could not be compared"
    bits = []
    if o.message:
        bits.append(o.message)
    bits.append(f"max abs {fmt_num(o.max_abs)} (atol {fmt_num(o.atol)}, rtol {fmt_num(o.rtol)})")
    if o.min_atol and not o.exact:
        bits.append(f"min passing atol {fmt_num(o.min_atol)}")
    return "; ".join(bits)


def metric_lines(o: OutputReport) -> list[str]:
    """Every metric of an output, one ``key: value`` per line."""
    return [
        f"status: {o.status}",
        f"dtype: {dtype_text(o)}",
        f"shape: {shape_text(o)}",
        f"atol: {fmt_num(o.atol)}  rtol: {fmt_num(o.rtol)}  exact: {o.exact}",
        f"max_abs: {fmt_num(o.max_abs)}  mean_abs: {fmt_num(o.mean_abs)}  p99_abs: {fmt_num(o.p99_abs)}",
        f"max_rel: {fmt_num(o.max_rel)}  mean_rel: {fmt_num(o.mean_rel)}  rmse: {fmt_num(o.rmse)}",
        f"cosine: {fmt_cosine(o.cosine)}  mismatch: {fmt_pct(o.mismatch_fraction)}",
        f"nan_mismatch: {o.nan_mismatch}  inf_mismatch: {o.inf_mismatch}",
        f"min_atol: {fmt_num(o.min_atol)}  min_rtol: {fmt_num(o.min_rtol)}",
    ] + ([f"message: {o.message}"] if o.message else [])

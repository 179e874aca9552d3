"""The parity report as one self-contained HTML page.

No external scripts, stylesheets, fonts or images: the CSS is inline and the plots are
hand-written inline SVG, so the page opens offline and can be archived as a CI artifact.
The report itself is embedded as JSON in ``<script type="application/json" id="report-data">``
(data only, never executed) for tools that scrape the page.

Stable hooks (tests and users rely on them):
  * ``#summary`` the header, ``#outputs`` the outputs table;
  * ``svg.plot#hist-<i>`` the error histogram of ``report.outputs[i]`` (outputs with a histogram only);
  * ``svg.plot#layers-plot`` per-layer max abs error along the topological order (per-layer runs only),
    with ``#first-divergent-marker`` on the first divergent node; ``#layers`` the layers table.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from ..report import LayerReport, OutputReport, ParityReport, dropped_text
from ._common import (DASH, dtype_text, first_divergent_info, first_divergent_position, fmt_cosine, fmt_num,
                      fmt_pct, is_compared, shape_text, verdict)
from .json_report import to_json

# Plot colours (chosen not to occur anywhere else on the page; the screenshot test looks for them)
HIST_BAR = "#2f6fdb"        # error bins at or below atol
HIST_OVER = "#f08c00"       # error bins above atol
LAYER_LINE = "#7048e8"      # per-layer max abs error
DIVERGENT = "#e03131"       # the first divergent node (marker and guide line)
DIVERGENT_TEXT = "#c92a2a"  # its label (darker, so the marker colour stays the marker's)
AXIS = "#868e96"
GRID = "#e9ecef"

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 24px; color: #212529; background: #ffffff; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 8px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; }
.verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; font-size: 15px; margin: 8px 0 12px 0; }
.verdict.pass { background: #d3f9d8; color: #2b8a3e; }
.verdict.fail { background: #ffe3e3; color: #a61e1e; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.meta dt { color: #495057; }
dl.meta dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #dee2e6; text-align: left; vertical-align: top; }
th { background: #f8f9fa; font-weight: 600; }
td.num { text-align: right; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.pass { background: #ebfbee; color: #2b8a3e; }
.badge.fail { background: #fff5f5; color: #a61e1e; }
.badge.error { background: #f8f0fc; color: #862e9c; }
.badge.excluded { background: #fff9db; color: #8a6d00; }
.badge.missing { background: #f1f3f5; color: #495057; }
tr.divergent td { background: #fff5f5; font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; }
figcaption { font-size: 13px; margin-bottom: 4px; }
.noplot { color: #868e96; font-style: italic; }
svg.plot { background: #ffffff; border: 1px solid #dee2e6; border-radius: 4px; }
svg.plot text { font-size: 11px; fill: #495057; font-family: system-ui, sans-serif; }
.legend { font-size: 12px; color: #495057; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: -1px; }
.msg { color: #495057; font-size: 13px; }
"""


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def _f(x: float) -> str:
    """SVG coordinate."""
    return f"{x:.1f}"


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------- histogram
HIST_W, HIST_H = 360, 210
HM = {"left": 44, "right": 12, "top": 14, "bottom": 40}


def histogram_svg(o: OutputReport, index: int) -> str | None:
    hist = o.histogram or {}
    edges = [_finite(e) for e in hist.get("edges", [])]
    counts = [_finite(c) or 0.0 for c in hist.get("counts", [])]
    if len(edges) < 2 or not counts or any(e is None for e in edges):
        return None
    counts = counts[: len(edges) - 1]
    x0, x1 = edges[0], edges[len(counts)]
    if x1 <= x0:
        return None
    pw, ph = HIST_W - HM["left"] - HM["right"], HIST_H - HM["top"] - HM["bottom"]
    top = max(counts) or 1.0
    log_top = math.log10(1.0 + top)

    def sx(v: float) -> float:
        return HM["left"] + (v - x0) / (x1 - x0) * pw

    def sy(c: float) -> float:  # log(1 + count) so the tail stays visible next to a tall exact bin
        return HM["top"] + ph - (math.log10(1.0 + c) / log_top) * ph

    atol = _finite(o.atol)
    log_atol = math.log10(atol) if atol and atol > 0 else None
    parts = [f'<svg class="plot histogram" id="hist-{index}" width="{HIST_W}" height="{HIST_H}" '
             f'viewBox="0 0 {HIST_W} {HIST_H}" role="img" aria-label="{escape(o.name)} error histogram">',
             f"<title>{escape(o.name)}: log10 |abs error|, {int(sum(counts))} elements</title>"]
    for frac in (0.25, 0.5, 0.75, 1.0):  # horizontal grid
        y = HM["top"] + ph - frac * ph
        parts.append(f'<line x1="{HM["left"]}" x2="{HIST_W - HM["right"]}" y1="{_f(y)}" y2="{_f(y)}" stroke="{GRID}"/>')
    for i, c in enumerate(counts):
        if c <= 0:
            continue
        lo, hi = edges[i], edges[i + 1]
        over = log_atol is not None and lo >= log_atol - 1e-9
        xa, xb = sx(lo) + 1, sx(hi) - 1
        y = sy(c)
        parts.append(f'<rect x="{_f(xa)}" y="{_f(y)}" width="{_f(max(1.0, xb - xa))}" height="{_f(HM["top"] + ph - y)}" '
                     f'fill="{HIST_OVER if over else HIST_BAR}"><title>1e{lo:g} ≤ |err| &lt; 1e{hi:g}: {int(c)}'
                     f"</title></rect>")
    base = HM["top"] + ph
    parts.append(f'<line x1="{HM["left"]}" x2="{HIST_W - HM["right"]}" y1="{_f(base)}" y2="{_f(base)}" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{HM["left"]}" x2="{HM["left"]}" y1="{HM["top"]}" y2="{_f(base)}" stroke="{AXIS}"/>')
    step = max(1, round((x1 - x0) / 7))
    v = math.ceil(x0)
    while v <= x1 + 1e-9:
        x = sx(v)
        parts.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(base)}" y2="{_f(base + 4)}" stroke="{AXIS}"/>'
                     f'<text x="{_f(x)}" y="{_f(base + 15)}" text-anchor="middle">1e{v:g}</text>')
        v += step
    parts.append(f'<text x="{_f(HM["left"] + pw / 2)}" y="{HIST_H - 6}" text-anchor="middle">|abs error| (log10 bins)</text>')
    parts.append(f'<text x="{HM["left"] - 6}" y="{_f(HM["top"] + 4)}" text-anchor="end">{int(top)}</text>'
                 f'<text x="{HM["left"] - 6}" y="{_f(base)}" text-anchor="end">0</text>')
    if log_atol is not None and x0 <= log_atol <= x1:
        x = sx(log_atol)
        parts.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{HM["top"]}" y2="{_f(base)}" stroke="#495057" '
                     f'stroke-dasharray="4 3"/><text x="{_f(x + 3)}" y="{HM["top"] + 10}">atol</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- layers plot
LAY_W, LAY_H = 1100, 320
LM = {"left": 64, "right": 20, "top": 28, "bottom": 44}


def layers_svg(report: ParityReport) -> str:
    layers = report.layers
    n = len(layers)
    pos_fd = first_divergent_position(report)
    values: list[float | None] = []  # log10 max abs; None = missing; +inf = inf/nan
    for layer in layers:
        if layer.status == "missing":
            values.append(None)
            continue
        v = _finite(layer.max_abs)
        if v is None:
            values.append(math.inf)
        else:
            values.append(math.log10(v) if v > 0 else -math.inf)
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo = math.floor(min(finite)) - 1 if finite else -8
    hi = math.ceil(max(finite)) if finite else 0
    lo = max(lo, -20)
    if hi <= lo:
        hi = lo + 1
    pw, ph = LAY_W - LM["left"] - LM["right"], LAY_H - LM["top"] - LM["bottom"]

    def sx(i: int) -> float:
        return LM["left"] + (i / (n - 1) * pw if n > 1 else pw / 2)

    def sy(v: float) -> float:
        v = min(max(v, lo), hi + 0.6)  # zeros sit on the floor, inf/nan just above the top
        return LM["top"] + ph - (v - lo) / (hi + 0.6 - lo) * ph

    parts = [f'<svg class="plot layers" id="layers-plot" width="{LAY_W}" height="{LAY_H}" '
             f'viewBox="0 0 {LAY_W} {LAY_H}" role="img" aria-label="per-layer max abs error">',
             "<title>per-layer max abs error (log scale) along the topological order</title>"]
    base = LM["top"] + ph
    step = max(1, math.ceil((hi - lo) / 8))
    for d in range(lo, hi + 1, step):
        y = sy(d)
        label = f"1e{d}" if d > lo else f"≤1e{d}"
        parts.append(f'<line x1="{LM["left"]}" x2="{LAY_W - LM["right"]}" y1="{_f(y)}" y2="{_f(y)}" stroke="{GRID}"/>'
                     f'<text x="{LM["left"] - 6}" y="{_f(y + 4)}" text-anchor="end">{label}</text>')
    if any(v == math.inf for v in values):
        parts.append(f'<text x="{LM["left"] - 6}" y="{_f(sy(hi + 0.6) + 4)}" text-anchor="end">inf/nan</text>')
    parts.append(f'<line x1="{LM["left"]}" x2="{LAY_W - LM["right"]}" y1="{_f(base)}" y2="{_f(base)}" stroke="{AXIS}"/>'
                 f'<line x1="{LM["left"]}" x2="{LM["left"]}" y1="{LM["top"]}" y2="{_f(base)}" stroke="{AXIS}"/>')
    ticks = sorted({round(k * (n - 1) / 10) for k in range(11)}) if n > 1 else [0]
    for t in ticks:
        x = sx(t)
        parts.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(base)}" y2="{_f(base + 4)}" stroke="{AXIS}"/>'
                     f'<text x="{_f(x)}" y="{_f(base + 16)}" text-anchor="middle">{layers[t].index}</text>')
    parts.append(f'<text x="{_f(LM["left"] + pw / 2)}" y="{LAY_H - 8}" text-anchor="middle">'
                 f"node index (topological order)</text>"
                 f'<text x="{LM["left"]}" y="{LM["top"] - 10}">max abs error (log scale)</text>')
    # the line, broken where a layer is missing
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, v in enumerate(values):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_f(sx(i))},{_f(sy(v))}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline fill="none" stroke="{LAYER_LINE}" stroke-width="2" '
                         f'stroke-linejoin="round" points="{" ".join(seg)}"/>')
    if n <= 400:
        for i, (layer, v) in enumerate(zip(layers, values)):
            if v is None:
                parts.append(f'<circle cx="{_f(sx(i))}" cy="{_f(base)}" r="3" fill="#ffffff" stroke="{AXIS}">'
                             f"<title>{escape(_layer_tip(layer))}</title></circle>")
                continue
            parts.append(f'<circle cx="{_f(sx(i))}" cy="{_f(sy(v))}" r="3" fill="{LAYER_LINE}">'
                         f"<title>{escape(_layer_tip(layer))}</title></circle>")
    if pos_fd is not None:
        layer = layers[pos_fd]
        v = values[pos_fd]
        x = sx(pos_fd)
        y = sy(v) if v is not None else base
        anchor = "end" if x > LM["left"] + pw * 0.7 else "start"
        dx = -10 if anchor == "end" else 10
        parts.append(f'<g id="first-divergent-marker"><title>first divergent: {escape(_layer_tip(layer))}</title>'
                     f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{LM["top"]}" y2="{_f(base)}" stroke="{DIVERGENT}" '
                     f'stroke-width="1.5" stroke-dasharray="5 4"/>'
                     f'<circle cx="{_f(x)}" cy="{_f(y)}" r="7" fill="{DIVERGENT}" stroke="#ffffff" stroke-width="1.5"/>'
                     f'<text x="{_f(x + dx)}" y="{LM["top"] + 12}" text-anchor="{anchor}" '
                     f'style="fill:{DIVERGENT_TEXT};font-weight:600">first divergent: {escape(layer.node)} '
                     f"({escape(layer.op_type)})</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def _layer_tip(layer: LayerReport) -> str:
    return (f"#{layer.index} {layer.node} ({layer.op_type}) -> {layer.tensor}: {layer.status}, "
            f"max abs {fmt_num(layer.max_abs)}, inputs max abs {fmt_num(layer.input_max_abs)}")


# ---------------------------------------------------------------- page
def _summary(report: ParityReport) -> str:
    rows = [("reference", report.reference), ("candidate", report.candidate), ("target", report.target),
            ("seed", report.seed), ("samples", report.samples),
            ("dims", ", ".join(f"{k}={v}" for k, v in report.dims.items()) or DASH)]
    if report.inputs:
        rows.append(("inputs", "; ".join(
            f"{i.get('name')}: {i.get('dtype')}[{', '.join(str(d) for d in (i.get('shape') or []))}]"
            + (f" ({i.get('role')})" if i.get("role") and i.get("role") != "data" else "")
            for i in report.inputs)))
    if report.per_layer_mode:
        rows.append(("per-layer", report.per_layer_mode))
    if report.dropped:
        rows.append(("dropped", "; ".join(dropped_text(d) for d in report.dropped)
                     + " (no output depends on them: the converted model does not do them)"))
    if report.timings:
        rows.append(("timings", ", ".join(f"{k} {fmt_num(v)} s" for k, v in report.timings.items())))
    rows.append(("report version", report.version))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows)
    state = "pass" if report.passed else "fail"
    return (f'<header id="summary"><h1>mmconvert parity report</h1>'
            f'<div class="verdict {state}" id="verdict">{escape(verdict(report))}</div>'
            f'<dl class="meta">{items}</dl></header>')


def _outputs_table(report: ParityReport) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("#", "output", "status", "dtype", "shape", "max abs", "max rel", "p99 abs",
                                             "cosine", "mismatch", "min atol", "atol / rtol", "note"))
    rows = []
    for i, o in enumerate(report.outputs):
        if is_compared(o):
            nums = [fmt_num(o.max_abs), fmt_num(o.max_rel), fmt_num(o.p99_abs), fmt_cosine(o.cosine),
                    fmt_pct(o.mismatch_fraction), fmt_num(o.min_atol)]
        else:
            nums = [DASH] * 6
        tol = DASH if not is_compared(o) else "exact" if o.exact else f"{fmt_num(o.atol)} / {fmt_num(o.rtol)}"
        cells = "".join(f'<td class="num">{escape(v)}</td>' for v in nums)
        rows.append(f'<tr id="output-{i}" class="{escape(o.status)}"><td class="num">{i}</td><td>{escape(o.name)}</td>'
                    f"<td>{_badge(o.status)}</td><td>{escape(dtype_text(o))}</td><td>{escape(shape_text(o))}</td>"
                    f'{cells}<td class="num">{escape(tol)}</td><td class="msg">{escape(o.message)}</td></tr>')
    return f'<table id="outputs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _histograms(report: ParityReport) -> str:
    figs = []
    for i, o in enumerate(report.outputs):
        svg = histogram_svg(o, i) if is_compared(o) else None
        caption = f"{escape(o.name)} {_badge(o.status)}"
        if svg is None:
            why = f"excluded: {o.message}" if o.status == "excluded" else (o.message or "no error histogram")
            figs.append(f'<figure><figcaption>{caption}</figcaption><p class="noplot">{escape(why)}</p></figure>')
        else:
            figs.append(f"<figure><figcaption>{caption}</figcaption>{svg}</figure>")
    legend = (f'<p class="legend">log10 |abs error| bins, count on a log scale; the first bin also holds exact matches.'
              f'<span class="swatch" style="background:{HIST_BAR}"></span>at or below atol'
              f'<span class="swatch" style="background:{HIST_OVER}"></span>above atol</p>')
    return f'{legend}<div class="plots">{"".join(figs)}</div>'


def _layers_section(report: ParityReport) -> str:
    fd = first_divergent_info(report)
    pos = first_divergent_position(report)
    mode = escape(report.per_layer_mode or "per-layer")
    if fd:
        lead = (f'<p id="first-divergent">First divergent node: <strong>{escape(str(fd.get("node")))}</strong> '
                f'({escape(str(fd.get("op_type")))}) → {escape(str(fd.get("tensor")))}: max abs '
                f'{escape(fmt_num(fd.get("max_abs")))}, its inputs\' max abs {escape(fmt_num(fd.get("input_max_abs")))} '
                f"[{mode}]</p>")
    else:
        lead = f'<p id="first-divergent">All {len(report.layers)} layers within tolerance [{mode}].</p>'
    rows = []
    for i, layer in enumerate(report.layers):
        cls = ' class="divergent"' if i == pos else ""
        rows.append(f'<tr id="layer-row-{i}"{cls}><td class="num">{layer.index}</td><td>{escape(layer.node)}</td>'
                    f"<td>{escape(layer.op_type)}</td><td>{escape(layer.tensor)}</td><td>{_badge(layer.status)}</td>"
                    f'<td class="num">{escape(fmt_num(layer.max_abs))}</td><td class="num">{escape(fmt_num(layer.max_rel))}</td>'
                    f'<td class="num">{escape(fmt_num(layer.input_max_abs))}</td><td>{escape(layer.layout or "")}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("#", "node", "op", "tensor", "status", "max abs", "max rel",
                                             "inputs max abs", "layout"))
    table = f'<table id="layers"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    opened = " open" if len(report.layers) <= 300 else ""
    legend = (f'<p class="legend"><span class="swatch" style="background:{LAYER_LINE}"></span>max abs error of each '
              f'node\'s output<span class="swatch" style="background:{DIVERGENT}"></span>first divergent node</p>')
    return (f"<h2>Per-layer error</h2>{lead}{legend}{layers_svg(report)}"
            f"<details{opened}><summary>{len(report.layers)} layers</summary>{table}</details>")


def to_html(report: ParityReport) -> str:
    """The whole report as one self-contained HTML page."""
    state = "pass" if report.passed else "fail"
    data = to_json(report, indent=None).replace("<", "\\u003c")  # "<" only occurs inside JSON strings
    body = [_summary(report), "<h2>Outputs</h2>", _outputs_table(report), "<h2>Error histograms</h2>",
            _histograms(report)]
    if report.layers:
        body.append(_layers_section(report))
    title = f"parity {state.upper()}: {report.reference} → {report.candidate} [{report.target}]"
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f'<body class="{state}">{"".join(body)}'
            f'<script type="application/json" id="report-data">{data}</script>'
            "</body></html>\n")

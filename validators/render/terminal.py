"""The parity report as rich tables on a terminal."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..report import DROPPED_NOTE, ParityReport, dropped_text
from ._common import (DASH, dtype_text, first_divergent_info, fmt_cosine, fmt_num, fmt_pct, is_compared,
                      layer_window, shape_text, verdict)

STATUS_STYLE = {"pass": "green", "fail": "bold red", "error": "bold magenta", "excluded": "yellow",
                "missing": "dim"}


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def print_report(report: ParityReport, console: Console | None = None) -> None:
    """Print the outputs table, the verdict and, after a per-layer run, the first divergent
    node with the layers around it."""
    console = console or Console()
    title = f"parity: {report.reference} → {report.candidate} [{report.target}]"
    sub = f"seed {report.seed}, {report.samples} sample{'s' if report.samples != 1 else ''}"
    if report.dims:
        sub += ", " + ", ".join(f"{k}={v}" for k, v in report.dims.items())
    headers = ["output", "status", "dtype", "shape", "max abs", "max rel", "p99 abs", "cosine", "mismatch", "min atol"]
    rows: list[list[Text]] = []
    notes: list[tuple[str, str, str]] = []
    for o in report.outputs:
        if is_compared(o):
            metrics = [fmt_num(o.max_abs), fmt_num(o.max_rel), fmt_num(o.p99_abs), fmt_cosine(o.cosine),
                       fmt_pct(o.mismatch_fraction), fmt_num(o.min_atol)]
        else:
            metrics = [DASH] * 6
        # every user-provided string goes in as Text: names like "x[0]" must not be read as rich markup
        rows.append([Text(o.name), _status(o.status), Text(dtype_text(o)), Text(shape_text(o))]
                    + [Text(m) for m in metrics])
        if o.message:
            notes.append((o.name, o.status, o.message))
    widths = [max([len(r[c]) for r in rows] + [len(h)]) for c, h in enumerate(headers)]
    console.print(Text(title, style="bold"))
    if sum(widths) + 2 * (len(widths) - 1) <= console.width:
        # no vertical rules, so the ten columns fit a narrow terminal; nothing is ever truncated
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)
        for c, header in enumerate(headers):
            table.add_column(header, no_wrap=True, justify="left" if c < 4 else "right")
        for r in rows:
            table.add_row(*r)
        console.print(table)
    else:  # too narrow for the table: two lines per output
        for r in rows:
            line = Text.assemble(r[0], "  ", r[1], "  ", r[2], " ", r[3])
            console.print(line)
            console.print(Text("    " + "  ".join(f"{h} {m}" for h, m in zip(headers[4:], r[4:]))))
    console.print(Text(sub, style="dim"))
    for name, status, message in notes:
        line = Text("  ")
        line.append(f"{name}", style="bold")
        line.append(" (")
        line.append(status, style=STATUS_STYLE.get(status, ""))
        line.append(f"): {message}")
        console.print(line)
    for entry in report.dropped:
        console.print(Text(f"  dropped: {dropped_text(entry)} ({DROPPED_NOTE})", style="yellow"))
    console.print(Text(verdict(report), style="bold green" if report.passed else "bold red"))
    if report.layers:
        _print_layers(report, console)


def _print_layers(report: ParityReport, console: Console) -> None:
    mode = report.per_layer_mode or "per-layer"
    fd = first_divergent_info(report)
    if fd is None:
        console.print(Text(f"per-layer ({mode}): all {len(report.layers)} layers within tolerance", style="green"))
        return
    head = Text("first divergent node: ", style="bold")
    head.append(str(fd.get("node")), style="bold red")
    head.append(f" ({fd.get('op_type')}) → {fd.get('tensor')}: max abs {fmt_num(fd.get('max_abs'))}")
    if fd.get("max_rel") is not None:
        head.append(f", max rel {fmt_num(fd.get('max_rel'))}")
    head.append(f"; its inputs' max abs {fmt_num(fd.get('input_max_abs'))}")
    head.append(f"  [{mode}]", style="dim")
    console.print(head)
    window, at = layer_window(report)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    cells = [[fmt_num(x.max_abs), fmt_num(x.max_rel), fmt_num(x.input_max_abs)] for x in window]
    table.add_column("")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("node", overflow="fold")
    table.add_column("op", no_wrap=True)
    table.add_column("tensor", overflow="fold")
    table.add_column("status", no_wrap=True)
    for c, header in enumerate(("max abs", "max rel", "inputs max abs")):  # numbers are never cut; headers wrap
        table.add_column(header, justify="right", min_width=max(len(r[c]) for r in cells))
    for i, (layer, nums) in enumerate(zip(window, cells)):
        mark = "►" if i == at else ""
        style = "bold" if i == at else ""
        table.add_row(mark, str(layer.index), Text(layer.node), Text(layer.op_type), Text(layer.tensor),
                      _status(layer.status), *nums, style=style)
    console.print(table)

"""Report renderers: terminal table, JSON + schema, JUnit + XSD, self-contained HTML,
and a headless-Chromium screenshot of the HTML page."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from mmconvert.validators.render import from_json, load_schema, print_report, to_html, to_json, to_junit
from mmconvert.validators.render import html as html_mod
from mmconvert.validators.report import LayerReport, OutputReport, ParityReport

EDGES = [float(e) for e in range(-12, 3)]
CHROMIUM = "/usr/bin/chromium"
XSD = Path(__file__).resolve().parents[1] / "validators" / "render" / "junit.xsd"


def _hist(counts):
    assert len(counts) == len(EDGES) - 1
    return {"edges": list(EDGES), "counts": list(counts)}


def passing_output(name="logits"):
    return OutputReport(name=name, status="pass", dtype="float32", candidate_dtype="float32", shape=[2, 10],
                        candidate_shape=[2, 10], atol=1e-4, rtol=1e-3, max_abs=3.1e-6, mean_abs=4e-7, p99_abs=2e-6,
                        max_rel=1.2e-5, mean_rel=1e-6, cosine=0.99999994, rmse=6e-7, mismatch_fraction=0.0,
                        min_atol=0.0, min_rtol=0.0,
                        histogram=_hist([5, 0, 0, 0, 1, 3, 9, 6, 0, 0, 0, 0, 0, 0]))


def failing_output(name="features"):
    return OutputReport(name=name, status="fail", dtype="float32", candidate_dtype="float32", shape=[2, 64, 7, 7],
                        candidate_shape=[2, 64, 7, 7], atol=1e-4, rtol=1e-3, max_abs=0.042, mean_abs=1e-3,
                        p99_abs=0.03, max_rel=float("inf"), mean_rel=float("nan"), cosine=0.9912, rmse=4e-3,
                        mismatch_fraction=0.125, nan_mismatch=3, inf_mismatch=0, min_atol=float("inf"),
                        min_rtol=float("inf"), histogram=_hist([0, 0, 0, 0, 2, 40, 300, 900, 2000, 1500, 300, 20, 0, 0]),
                        message="392 of 6272 elements beyond atol=0.0001 rtol=0.001; 3 NaN on one side only")


def excluded_output(name="noise"):
    return OutputReport(name=name, status="excluded", dtype="float32", shape=[2, 10], cosine=None,
                        message="depends on RandomNormal node 'rng'")


def make_layers(n=10, diverge_at=6):
    layers = []
    for i in range(n):
        if i < diverge_at:
            err, status = 10.0 ** (-7 + 0.1 * i), "pass"
        else:
            err, status = 10.0 ** (-2 + 0.2 * (i - diverge_at)), "fail"
        layers.append(LayerReport(index=i, node=f"block{i}.conv" if i != diverge_at else "block6.<gelu>",
                                  op_type="Conv" if i % 2 == 0 else "Relu", tensor=f"t{i}", max_abs=err,
                                  max_rel=err * 10, status=status,
                                  input_max_abs=layers[-1].max_abs if layers else 0.0))
    layers[2].max_abs = 0.0  # an exact layer sits on the plot's floor
    layers[-1].max_abs = float("nan")  # NaN at the end: drawn at the top
    return layers


def make_report(*, failing=True, layers=True, excluded=True, n_layers=10, diverge_at=6) -> ParityReport:
    outputs = [passing_output()]
    if failing:
        outputs.append(failing_output())
    if excluded:
        outputs.append(excluded_output())
    r = ParityReport(reference="model.onnx", candidate="out/pytorch", target="pytorch",
                     status="fail" if failing else "pass", outputs=outputs, samples=3, seed=7,
                     inputs=[{"name": "image", "dtype": "float32", "shape": ["batch", 3, 8, 8], "role": "data"}],
                     dims={"batch": 2}, timings={"inputs": 0.01, "reference": 0.2, "candidate": 0.4, "compare": 0.02})
    if layers:
        r.layers = make_layers(n_layers, diverge_at)
        r.per_layer_mode = "accumulated"
        if diverge_at >= n_layers:
            return r
        d = r.layers[diverge_at]
        r.first_divergent = {"node": d.node, "op_type": d.op_type, "tensor": d.tensor, "index": d.index,
                             "max_abs": d.max_abs, "max_rel": d.max_rel, "input_max_abs": d.input_max_abs}
    return r


# ---------------------------------------------------------------- terminal
def _terminal(report, width=200) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False)
    print_report(report, console)
    return console.export_text()


def test_terminal_table_failing_with_layers():
    text = _terminal(make_report())
    for col in ("output", "status", "dtype", "shape", "max abs", "max rel", "p99 abs", "cosine", "mismatch", "min atol"):
        assert col in text
    assert "FAIL: 1 of 2 compared outputs differ, 1 excluded" in text
    assert "0.042" in text and "12.5%" in text and "2×64×7×7" in text
    assert "depends on RandomNormal node 'rng'" in text  # the excluded output's reason
    assert "first divergent node: block6.<gelu> (Conv) → t6" in text
    window = [line for line in text.splitlines() if "block" in line and ("Conv" in line or "Relu" in line)]
    # three layers before the divergent one, three after, the divergent one marked
    assert [w for w in window if "►" in w] and "block6.<gelu>" in [w for w in window if "►" in w][0]
    assert any("block3.conv" in w for w in window) and any("block9.conv" in w for w in window)
    assert not any("block2.conv" in w for w in window)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_terminal_never_truncates_values(width):
    text = _terminal(make_report(), width)
    assert "…" not in text
    flat = " ".join(text.split())
    for value in ("3.1e-06", "1.2e-05", "0.042", "12.5%", ">0.999999", "0.991200", "2×64×7×7", "excluded", "float32"):
        assert value in flat, (width, value)


def test_terminal_passing_without_layers():
    text = _terminal(make_report(failing=False, layers=False, excluded=False))
    assert "PASS: 1 of 1 compared outputs match" in text
    assert "first divergent" not in text and "FAIL" not in text


def test_terminal_does_not_read_names_as_markup():
    report = make_report(layers=False)
    report.outputs[0].name = "out[bold]x[/bold]"
    report.outputs[1].message = "see [red]here[/red]"
    text = _terminal(report)
    assert "out[bold]x[/bold]" in text and "see [red]here[/red]" in text and "[pytorch]" in text
    assert ">0.999999" in text  # a cosine of 0.99999994 is not shown as 1


def test_terminal_status_is_coloured():
    console = Console(record=True, width=200, force_terminal=True, color_system="truecolor")
    print_report(make_report(), console)
    ansi = console.export_text(styles=True)
    assert "\x1b[1;31mfail" in ansi and "\x1b[32mpass" in ansi


# ---------------------------------------------------------------- JSON
@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("kw", [{}, {"layers": False}, {"failing": False, "excluded": False, "layers": False}])
def test_json_valid_and_strict(validator, kw):
    report = make_report(**kw)
    text = to_json(report)
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    errors = list(validator.iter_errors(data))
    assert not errors, [e.message for e in errors]
    assert data["version"] == report.version and data["schema"] == "mmconvert-parity-report"


def test_json_nonfinite_as_strings_and_round_trip():
    report = make_report()
    data = json.loads(to_json(report))
    fail = data["outputs"][1]
    assert fail["max_rel"] == "inf" and fail["mean_rel"] == "nan" and fail["min_atol"] == "inf"
    assert data["layers"][-1]["max_abs"] == "nan"
    back = from_json(to_json(report))
    assert math.isinf(back.outputs[1].max_rel) and math.isnan(back.outputs[1].mean_rel)
    assert math.isnan(back.layers[-1].max_abs)
    assert back.first_divergent["node"] == "block6.<gelu>" and back.outputs[2].status == "excluded"
    assert to_json(back) == to_json(report)


@pytest.mark.parametrize("breakage", [
    lambda d: d.pop("version"),
    lambda d: d.update(version="2.0"),
    lambda d: d.update(status="maybe"),
    lambda d: d["outputs"][0].update(status="ok"),
    lambda d: d["outputs"][0].update(max_abs="NaN"),  # only "nan", "inf", "-inf" are allowed
    lambda d: d["outputs"][0].update(max_abs=-1.0),
    lambda d: d["outputs"][0].pop("histogram"),
    lambda d: d["outputs"][0].update(histogram={"edges": [1.0, 2.0]}),
    lambda d: d["layers"][0].update(status="broken"),
    lambda d: d.update(first_divergent={"node": "x"}),
    lambda d: d.update(per_layer_mode="sometimes"),
    lambda d: d.update(samples="3"),
])
def test_broken_json_fails_validation(validator, breakage):
    data = json.loads(to_json(make_report()))
    assert validator.is_valid(data)
    broken = copy.deepcopy(data)
    breakage(broken)
    assert not validator.is_valid(broken)


# ---------------------------------------------------------------- JUnit
@pytest.fixture(scope="module")
def xsd():
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(XSD))


def _suite(xml_text):
    root = ET.fromstring(xml_text.encode())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "mmconvert-parity"
    return root, suites[0]


def test_junit_failing_report(xsd):
    xml_text = to_junit(make_report())
    xsd.validate(xml_text)
    root, suite = _suite(xml_text)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["logits", "features", "noise", "first-divergent-layer"]
    assert {c.get("classname") for c in cases} == {"parity.pytorch"}
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "2", "0", "1")
    assert root.get("failures") == "2"
    failure = cases[1].find("failure")
    assert "max abs 0.042" in failure.get("message") and "nan_mismatch: 3" in failure.text
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None
    assert cases[2].find("skipped").get("message") == "depends on RandomNormal node 'rng'"
    assert "block6.<gelu>" in cases[3].find("failure").get("message")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["reference"] == "model.onnx" and props["candidate"] == "out/pytorch"
    assert props["seed"] == "7" and props["samples"] == "3" and props["dim.batch"] == "2"


def test_junit_passing_report_and_error(xsd):
    report = make_report(failing=False, layers=False)
    xml_text = to_junit(report)
    xsd.validate(xml_text)
    _, suite = _suite(xml_text)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "0", "1")
    assert "first-divergent-layer" not in xml_text
    report.outputs.append(OutputReport(name="ids\x01", status="error", message="candidate raised KeyError"))
    report.status = "fail"
    xml_text = to_junit(report)
    xsd.validate(xml_text)  # control characters are dropped, the document stays well formed
    _, suite = _suite(xml_text)
    assert suite.get("errors") == "1" and suite.findall("testcase")[-1].find("error") is not None


def test_junit_xsd_rejects_broken_documents(xsd):
    good = to_junit(make_report())
    assert xsd.is_valid(good)
    assert not xsd.is_valid(good.replace('tests="4"', 'tests="four"', 1))
    assert not xsd.is_valid(good.replace("<failure ", "<failed ", 1).replace("</failure>", "</failed>", 1))


# ---------------------------------------------------------------- HTML
class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "img", "hr", "input", "link", "wbr"):  # HTML void elements
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


def _parse(page: str) -> _Collector:
    p = _Collector()
    p.feed(page)
    p.close()
    assert not p.open, p.open
    return p


def _ids(p: _Collector) -> dict[str, tuple[str, dict]]:
    return {a["id"]: (t, a) for t, a in p.elements if "id" in a}


def test_html_with_layers_is_self_contained_and_has_plots():
    report = make_report()
    page = to_html(report)
    p = _parse(page)
    ids = _ids(p)
    plots = [a["id"] for t, a in p.elements if t == "svg" and "plot" in a.get("class", "").split()]
    assert plots == ["hist-0", "hist-1", "layers-plot"]  # the excluded output (index 2) has no histogram
    assert "first-divergent-marker" in ids and ids["layer-row-6"][1].get("class") == "divergent"
    assert "depends on RandomNormal node &#x27;rng&#x27;" in page or "depends on RandomNormal node 'rng'" in page
    # self-contained: nothing is fetched
    for tag, attrs in p.elements:
        assert tag not in ("link", "img", "iframe", "object")
        assert not (tag == "script" and ("src" in attrs or attrs.get("type") != "application/json"))
        for key in ("src", "href"):
            assert key not in attrs, (tag, attrs)
    assert "http://" not in page and "https://" not in page and "@import" not in page and "url(" not in page
    # node names are escaped, and the embedded data is the JSON report
    assert "block6.&lt;gelu&gt;" in page and "block6.<gelu>" not in page
    start = page.index('id="report-data">') + len('id="report-data">')
    data = json.loads(page[start: page.index("</script>", start)])
    assert data == json.loads(to_json(report))


def test_html_histogram_bars_follow_counts_and_atol():
    out = failing_output()
    svg = html_mod.histogram_svg(out, 1)
    blue, orange = svg.count(f'fill="{html_mod.HIST_BAR}"'), svg.count(f'fill="{html_mod.HIST_OVER}"')
    nonzero = [(i, c) for i, c in enumerate(out.histogram["counts"]) if c]
    # bins starting at or above log10(atol) = -4 are "above atol"
    assert orange == sum(1 for i, _ in nonzero if EDGES[i] >= -4) == 4
    assert blue == len(nonzero) - orange
    assert html_mod.histogram_svg(excluded_output(), 2) is None


def test_html_without_layers_has_no_layer_plot():
    page = to_html(make_report(layers=False))
    p = _parse(page)
    ids = _ids(p)
    assert "layers-plot" not in ids and "first-divergent-marker" not in ids and "layers" not in ids
    assert {"hist-0", "hist-1", "summary", "outputs"} <= set(ids)
    assert html_mod.DIVERGENT not in page and html_mod.LAYER_LINE not in page


def test_html_layers_without_divergence_and_large_graph():
    report = make_report(failing=False, n_layers=1500, diverge_at=1500)
    report.first_divergent = None
    page = to_html(report)
    ids = _ids(_parse(page))
    assert "layers-plot" in ids and "first-divergent-marker" not in ids
    assert "All 1500 layers within tolerance" in page


# ---------------------------------------------------------------- screenshot
def _screenshot(tmp_path: Path, page: str, name: str):
    from PIL import Image

    html_file = tmp_path / f"{name}.html"
    html_file.write_text(page, encoding="utf-8")
    png = tmp_path / f"{name}.png"
    profile = tmp_path / f"profile-{name}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={profile}",
           f"--screenshot={png}", "--window-size=1200,1600", html_file.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert png.exists(), f"chromium wrote no screenshot (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return Image.open(png).convert("RGB")


def _hex(c: str) -> tuple[int, int, int]:
    return tuple(int(c[i: i + 2], 16) for i in (1, 3, 5))


def _pixels(img, colour: str, tol: int = 10) -> list[tuple[int, int]]:
    """Coordinates of pixels within ``tol`` (per channel) of ``colour``."""
    r0, g0, b0 = _hex(colour)
    w = img.width
    found = []
    for i, (r, g, b) in enumerate(img.getdata()):
        if abs(r - r0) <= tol and abs(g - g0) <= tol and abs(b - b0) <= tol:
            found.append((i % w, i // w))
    return found


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not installed (apt-get install chromium)")
def test_html_screenshot_shows_the_plots(tmp_path):
    pytest.importorskip("PIL", reason="pillow is needed to decode the screenshot")
    n, at = 10, 6
    img = _screenshot(tmp_path, to_html(make_report(n_layers=n, diverge_at=at)), "with-layers")
    assert img.size == (1200, 1600)
    bars = _pixels(img, html_mod.HIST_BAR)
    over = _pixels(img, html_mod.HIST_OVER)
    line = _pixels(img, html_mod.LAYER_LINE)
    marker = _pixels(img, html_mod.DIVERGENT)
    assert len(bars) > 300 and len(over) > 300, (len(bars), len(over))
    assert len(line) > 300, len(line)
    assert len(marker) > 100, len(marker)
    # the legend swatches above the plot share the plot colours: keep the marker's column (its
    # guide line and dot), then the line pixels within the guide line's height (the plot area)
    column = Counter(x for x, _ in marker).most_common(1)[0][0]
    marker = [(x, y) for x, y in marker if abs(x - column) <= 8]
    assert len(marker) > 100, len(marker)
    my = [y for _, y in marker]
    top, bottom = min(my), max(my)
    assert bottom - top > 0.6 * (html_mod.LAY_H - html_mod.LM["top"] - html_mod.LM["bottom"])
    line = [(x, y) for x, y in line if top - 5 <= y <= bottom + 5]
    assert len(line) > 300, len(line)
    # the layer plot lies below the histograms, and the marker sits inside the layer plot ...
    assert top > max(y for _, y in bars)
    lx = [x for x, _ in line]
    mx = sorted(x for x, _ in marker)
    assert min(lx) < mx[0] and mx[-1] < max(lx)
    # ... at the divergent node's position along the x axis (points are evenly spaced)
    median_x = mx[len(mx) // 2]
    expected = min(lx) + (max(lx) - min(lx)) * at / (n - 1)
    assert abs(median_x - expected) < 15, (median_x, expected, min(lx), max(lx))

    img2 = _screenshot(tmp_path, to_html(make_report(layers=False)), "without-layers")
    assert len(_pixels(img2, html_mod.HIST_BAR)) > 300
    assert len(_pixels(img2, html_mod.LAYER_LINE)) < 5
    assert len(_pixels(img2, html_mod.DIVERGENT)) < 5

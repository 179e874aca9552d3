"""The parity report as JSON, and the JSON Schema that describes it.

JSON has no NaN or infinity, so non-finite floats are written as the strings ``"nan"``,
``"inf"`` and ``"-inf"`` (everywhere a number may appear, nested values included);
:func:`from_json` turns them back into floats. The output is strict JSON
(``json.dumps(..., allow_nan=False)`` would accept it), so any parser can read it.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

from ..report import LayerReport, OutputReport, ParityReport

SCHEMA_FILE = "parity-report.schema.json"
NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _encode(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars that slipped through
        return _encode(value.item())
    return value


def to_dict(report: ParityReport) -> dict[str, Any]:
    """``report.to_dict()`` with non-finite floats as strings (JSON-safe)."""
    return _encode(report.to_dict())


def to_json(report: ParityReport, indent: int | None = 2) -> str:
    """The report as strict JSON text (see the module doc for NaN/inf)."""
    return json.dumps(to_dict(report), indent=indent, allow_nan=False, ensure_ascii=False)


def _decode_number(value: Any) -> Any:
    return NONFINITE.get(value, value) if isinstance(value, str) else value


_FLOAT_FIELDS_OUT = {"atol", "rtol", "max_abs", "mean_abs", "p99_abs", "max_rel", "mean_rel", "cosine", "rmse",
                     "mismatch_fraction", "min_atol", "min_rtol"}
_FLOAT_FIELDS_LAYER = {"max_abs", "max_rel", "input_max_abs"}


def from_json(text: str | bytes | dict) -> ParityReport:
    """Read a report written by :func:`to_json` back (e.g. to render it as HTML later)."""
    d = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
    d.pop("schema", None)
    outputs = []
    for o in d.pop("outputs", []):
        o = {k: (_decode_number(v) if k in _FLOAT_FIELDS_OUT else v) for k, v in o.items()
             if k in OutputReport.__dataclass_fields__}
        hist = o.get("histogram") or {}
        o["histogram"] = {k: [_decode_number(x) for x in v] for k, v in hist.items()}
        outputs.append(OutputReport(**o))
    layers = [LayerReport(**{k: (_decode_number(v) if k in _FLOAT_FIELDS_LAYER else v) for k, v in lay.items()
                             if k in LayerReport.__dataclass_fields__})
              for lay in d.pop("layers", [])]
    fd = d.pop("first_divergent", None)
    if fd:
        fd = {k: _decode_number(v) if k in ("max_abs", "max_rel", "input_max_abs") else v for k, v in fd.items()}
    timings = {k: _decode_number(v) for k, v in (d.pop("timings", None) or {}).items()}
    known = {k: v for k, v in d.items() if k in ParityReport.__dataclass_fields__}
    return ParityReport(**known, outputs=outputs, layers=layers, first_divergent=fd, timings=timings)


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`to_json`'s output, as a fresh dict."""
    return json.loads(_schema_text())

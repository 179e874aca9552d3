"""The parity report's data model. Renderers (terminal, JSON, JUnit, HTML) read only this."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = "1.1"


@dataclass
class OutputReport:
    """One output tensor compared over all samples."""

    name: str
    status: str  # "pass" | "fail" | "excluded" (depends on random ops) | "error"
    dtype: str | None = None  # reference dtype
    candidate_dtype: str | None = None
    shape: list | None = None  # reference shape (of the first sample)
    candidate_shape: list | None = None
    atol: float = 0.0
    rtol: float = 0.0
    exact: bool = False  # integers, bools and strings are compared exactly
    max_abs: float = 0.0
    mean_abs: float = 0.0
    p99_abs: float = 0.0
    max_rel: float = 0.0
    mean_rel: float = 0.0
    cosine: float | None = 1.0  # None when undefined (empty or exact types)
    rmse: float = 0.0
    mismatch_fraction: float = 0.0
    nan_mismatch: int = 0  # elements NaN on one side only
    inf_mismatch: int = 0  # elements +-inf on one side only (or with the other sign)
    min_atol: float = 0.0  # the smallest atol that would pass with this rtol
    min_rtol: float = 0.0  # the smallest rtol that would pass with this atol
    histogram: dict[str, list[float]] = field(default_factory=dict)  # {"edges": [...], "counts": [...]} of log10 |abs err|
    message: str = ""


@dataclass
class LayerReport:
    """One intermediate tensor, in the IR's topological order."""

    index: int
    node: str
    op_type: str
    tensor: str
    max_abs: float
    max_rel: float
    status: str  # "pass" | "fail" | "missing" (not captured by one side)
    input_max_abs: float = 0.0  # worst error over this node's inputs
    layout: str | None = None  # e.g. "NHWC->NCHW" when the backend recorded a layout change


@dataclass
class ParityReport:
    reference: str
    candidate: str
    target: str  # runner used for the candidate: "onnx", "pytorch", "tensorflow"
    status: str  # "pass" | "fail"
    outputs: list[OutputReport] = field(default_factory=list)
    samples: int = 1
    seed: int = 0
    inputs: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "dtype", "shape", "role"}]
    dims: dict[str, int] = field(default_factory=dict)  # values used for symbolic dims
    per_layer_mode: str | None = None  # None | "accumulated" | "isolated"
    layers: list[LayerReport] = field(default_factory=list)
    first_divergent: dict[str, Any] | None = None  # {"node", "op_type", "tensor", "max_abs", "input_max_abs"}
    timings: dict[str, float] = field(default_factory=dict)  # seconds: inputs, reference, candidate, compare, per_layer
    reference_runner: str = "onnxruntime"  # what ran the reference: onnxruntime, or the source's own framework
    # ops of the source that the conversion dropped (no output depends on them), e.g. a WriteFile
    # let through by --trust-source-ops: [{"op", "function", "node"}]
    dropped: list[dict[str, str]] = field(default_factory=list)
    version: str = SCHEMA_VERSION

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schema"] = "mmconvert-parity-report"
        return d

    def summary(self) -> dict[str, Any]:
        worst = max((o for o in self.outputs if o.status != "excluded"), key=lambda o: o.max_abs, default=None)
        return {
            "status": self.status,
            "outputs": len(self.outputs),
            "failed": [o.name for o in self.outputs if o.status in ("fail", "error")],
            "excluded": [o.name for o in self.outputs if o.status == "excluded"],
            "max_abs": worst.max_abs if worst else 0.0,
            "first_divergent": self.first_divergent,
            "dropped": [dropped_text(d) for d in self.dropped],
        }


DROPPED_NOTE = "no output depends on it: the converted model does not do it"


def dropped_text(entry: dict) -> str:
    """``WriteFile in __inference_serve_12``: one dropped op, as the summary and the reports say it."""
    where = entry.get("function") or entry.get("node")
    return f"{entry.get('op', '?')} in {where}" if where else str(entry.get("op", "?"))

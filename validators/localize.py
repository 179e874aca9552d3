"""Per-layer localization: walk the IR in topological order and name the first node
whose output diverges while its inputs still agree."""

from __future__ import annotations

import numpy as np

from mmconvert.ir.graph import Graph

from .metrics import max_errors
from .report import LayerReport


def apply_layout(value: np.ndarray, perm) -> np.ndarray:
    """Bring a candidate value to the reference layout with the permutation the backend recorded."""
    return np.transpose(value, perm) if perm is not None else value


def layers(graph: Graph, ref: dict, cand: dict, atol: float, rtol: float, layouts: dict | None = None
           ) -> tuple[list[LayerReport], dict | None]:
    layouts = layouts or {}
    errors: dict[str, float] = {}
    out: list[LayerReport] = []
    first = None
    for index, node in enumerate(graph.nodes):
        in_err = max([errors.get(t, 0.0) for t in node.inputs if t] or [0.0])
        for tensor in node.outputs:
            if not tensor:
                continue
            if tensor not in ref or tensor not in cand:
                out.append(LayerReport(index, node.name, node.op_type, tensor, 0.0, 0.0, "missing", in_err))
                continue
            r = np.asarray(ref[tensor])
            c = apply_layout(np.asarray(cand[tensor]), layouts.get(tensor))
            mabs, mrel, ok = max_errors(r, c)
            scale = float(np.max(np.abs(r.astype(np.float64)))) if ok and r.size and r.dtype.kind in "fiub" else 0.0
            exact = r.dtype.kind in "iub"
            bad = (not ok) or (mabs > (0.0 if exact else atol + rtol * scale))
            errors[tensor] = mabs
            status = "fail" if bad else "pass"
            out.append(LayerReport(index, node.name, node.op_type, tensor, mabs, mrel, status, in_err,
                                   f"permute{tuple(layouts[tensor])}" if tensor in layouts else None))
            if bad and first is None:
                first = {"node": node.name, "op_type": node.op_type, "tensor": tensor, "index": index,
                         "max_abs": mabs, "max_rel": mrel, "input_max_abs": in_err}
    return out, first

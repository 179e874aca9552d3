"""Comparison metrics for one output: errors, similarity, NaN/Inf handling, tolerances."""

from __future__ import annotations

import numpy as np

from mmconvert.ir import dtypes

# (atol, rtol) per reference dtype; integers, bools and strings compare exactly
PRESETS = {
    "float64": (1e-7, 1e-6),
    "float32": (1e-4, 1e-3),
    "float16": (1e-2, 1e-2),
    "bfloat16": (2e-2, 2e-2),
}
DEFAULT_FLOAT = (1e-4, 1e-3)
HIST_EDGES = list(range(-12, 3))  # log10 |abs error| bins; exact matches fall in the first


def tolerance_for(dtype: str | None) -> tuple[float, float]:
    if dtype in PRESETS:
        return PRESETS[dtype]
    if dtype in dtypes.INT_TYPES or dtype in ("bool", "string"):
        return (0.0, 0.0)
    return DEFAULT_FLOAT


def is_exact(dtype: str | None) -> bool:
    return dtype in dtypes.INT_TYPES or dtype in ("bool", "string")


def dtype_name(a: np.ndarray) -> str:
    try:
        return dtypes.of_array(a)
    except Exception:  # noqa: BLE001
        return str(a.dtype)


def compare(refs: list[np.ndarray], cands: list[np.ndarray], atol: float, rtol: float) -> dict:
    """Metrics over all samples of one output (flattened together)."""
    ref0, cand0 = refs[0], cands[0]
    rdt, cdt = dtype_name(ref0), dtype_name(cand0)
    out = {"dtype": rdt, "candidate_dtype": cdt, "shape": list(ref0.shape), "candidate_shape": list(cand0.shape),
           "atol": atol, "rtol": rtol, "exact": is_exact(rdt)}
    for r, c in zip(refs, cands):
        if r.shape != c.shape:
            return {**out, "status": "fail", "candidate_shape": list(c.shape),
                    "message": f"shape {list(c.shape)} != reference {list(r.shape)}", "mismatch_fraction": 1.0, "cosine": None}
    if rdt != cdt:
        return {**out, "status": "fail", "message": f"dtype {cdt} != reference {rdt}", "mismatch_fraction": 1.0, "cosine": None}
    if out["exact"]:
        r = np.concatenate([x.reshape(-1) for x in refs]) if refs[0].size else np.zeros(0)
        c = np.concatenate([x.reshape(-1) for x in cands]) if cands[0].size else np.zeros(0)
        neq = (r != c) if r.dtype != object else np.array([a != b for a, b in zip(r, c)], bool)
        frac = float(neq.mean()) if neq.size else 0.0
        maxabs = 0.0
        if r.dtype != object and neq.any():
            maxabs = float(np.max(np.abs(r.astype(np.float64) - c.astype(np.float64))))
        return {**out, "status": "fail" if neq.any() else "pass", "mismatch_fraction": frac, "max_abs": maxabs,
                "mean_abs": 0.0, "p99_abs": 0.0, "cosine": None,
                "message": f"{int(neq.sum())} of {neq.size} elements differ" if neq.any() else ""}
    r = np.concatenate([x.astype(np.float64).reshape(-1) for x in refs]) if refs[0].size else np.zeros(0)
    c = np.concatenate([x.astype(np.float64).reshape(-1) for x in cands]) if cands[0].size else np.zeros(0)
    if np.iscomplexobj(r) or np.iscomplexobj(c):
        r, c = np.abs(r), np.abs(c)
    return {**out, **float_metrics(r, c, atol, rtol)}


def float_metrics(r: np.ndarray, c: np.ndarray, atol: float, rtol: float) -> dict:
    rn, cn = np.isnan(r), np.isnan(c)
    nan_mismatch = int(np.sum(rn != cn))
    ri, ci = np.isinf(r), np.isinf(c)
    inf_mismatch = int(np.sum((ri | ci) & ~(rn | cn) & (r != c)))
    finite = np.isfinite(r) & np.isfinite(c)
    rf, cf = r[finite], c[finite]
    diff = np.abs(rf - cf)
    scale = np.abs(rf)
    bad = diff > atol + rtol * scale
    mismatches = int(bad.sum()) + nan_mismatch + inf_mismatch
    n = r.size
    rel = np.where(diff == 0, 0.0, diff / np.maximum(scale, np.finfo(np.float64).tiny))
    if diff.size:
        min_atol = float(max(0.0, np.max(diff - rtol * scale)))
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(diff <= atol, 0.0, np.where(scale > 0, (diff - atol) / scale, np.inf))
        min_rtol = float(np.max(need))
        norm = float(np.linalg.norm(rf) * np.linalg.norm(cf))
        cosine = float(np.dot(rf, cf) / norm) if norm > 0 else (1.0 if not rf.any() and not cf.any() else 0.0)
        logs = np.log10(np.maximum(diff, 10.0 ** HIST_EDGES[0]))
        counts, _ = np.histogram(np.clip(logs, HIST_EDGES[0], HIST_EDGES[-1]), bins=HIST_EDGES)
        stats = {"max_abs": float(diff.max()), "mean_abs": float(diff.mean()), "p99_abs": float(np.percentile(diff, 99)),
                 "max_rel": float(rel.max()), "mean_rel": float(rel.mean()),
                 "rmse": float(np.sqrt(np.mean(diff ** 2))), "cosine": cosine,
                 "histogram": {"edges": [float(e) for e in HIST_EDGES], "counts": [int(x) for x in counts]}}
    else:
        min_atol = min_rtol = 0.0
        stats = {"max_abs": 0.0, "mean_abs": 0.0, "p99_abs": 0.0, "max_rel": 0.0, "mean_rel": 0.0, "rmse": 0.0,
                 "cosine": None, "histogram": {}}
    if nan_mismatch or inf_mismatch:
        min_atol = min_rtol = float("inf")
    msg = []
    if bad.any():
        msg.append(f"{int(bad.sum())} of {n} elements beyond atol={atol:g} rtol={rtol:g}")
    if nan_mismatch:
        msg.append(f"{nan_mismatch} NaN on one side only")
    if inf_mismatch:
        msg.append(f"{inf_mismatch} Inf differs")
    return {**stats, "status": "fail" if mismatches else "pass", "mismatch_fraction": mismatches / n if n else 0.0,
            "nan_mismatch": nan_mismatch, "inf_mismatch": inf_mismatch, "min_atol": min_atol, "min_rtol": min_rtol,
            "message": "; ".join(msg)}


def max_errors(ref: np.ndarray, cand: np.ndarray) -> tuple[float, float, bool]:
    """(max abs, max rel, comparable) for per-layer checks (NaN in the same places is equal)."""
    if ref.shape != cand.shape or ref.dtype == object:
        return float("inf"), float("inf"), False
    try:
        r = ref.astype(np.float64).reshape(-1)
        c = cand.astype(np.float64).reshape(-1)
    except (TypeError, ValueError):
        return float("inf"), float("inf"), False
    if not r.size:
        return 0.0, 0.0, True
    both_nan = np.isnan(r) & np.isnan(c)
    same = (r == c) | both_nan
    diff = np.where(same, 0.0, np.abs(r - c))
    diff = np.where(np.isnan(diff), np.inf, diff)
    rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(r), np.finfo(np.float64).tiny))
    return float(diff.max()), float(rel.max()), True

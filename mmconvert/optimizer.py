"""What ``mmconvert optimize`` adds around the pass pipeline: checking every pass on ONNX
Runtime (``--check-passes``), keeping the IR after a pass (``--dump-after``), and onnxsim
first (``--simplify``)."""

from __future__ import annotations

import os
import time

import numpy as np

from mmconvert.ir.errors import InputError, ParityError
from mmconvert.ir.graph import Graph
from mmconvert.ir.passes import PassRecord, get


class PassObserver:
    """Sees the graph before the passes (:meth:`start`) and after each pass that changed it
    (:meth:`after`): checks that the outputs did not move, keeps copies for the dumps."""

    def __init__(self, output: str, *, check: bool = False, dump_after=(), force: bool = False,
                 atol: float | None = None, rtol: float | None = None, dims: dict | None = None):
        self.output = output
        self.check = check
        self.dump_after = list(dict.fromkeys(dump_after or ()))
        for name in self.dump_after:
            get(name)  # an unknown pass is a usage error before any work
        self.force = force
        self.atol = 1e-5 if atol is None else atol
        self.rtol = 1e-4 if rtol is None else rtol
        self.dims = dict(dims or {})
        self.copies: dict[str, Graph] = {}
        self.dumped: dict[str, str] = {}
        self._inputs = None
        self._outputs = None
        self.checked = 0

    def dump_path(self, name: str) -> str:
        return f"{self.output}.after-{name}"

    def start(self, graph: Graph) -> None:
        from mmconvert.ir.output import check

        for name in self.dump_after:
            check(self.dump_path(name), "folder", force=self.force)
        if self.check:
            from mmconvert.validators.inputs import generate

            batches, _, _ = generate(graph, samples=1, dims=self.dims)
            self._inputs = batches[0]
            self._outputs = self._run(graph)

    def after(self, name: str, graph: Graph) -> None:
        if name in self.dump_after:
            self.copies[name] = graph.copy()
        if self.check:
            outputs = self._run(graph, name)
            self._compare(name, graph, outputs)
            self._outputs = outputs
            self.checked += 1

    def write_dumps(self) -> None:
        from mmconvert import ir

        for name, g in self.copies.items():
            self.dumped[name] = ir.save(g, self.dump_path(name), force=self.force)

    # ------------------------------------------------------------ checking
    def _run(self, graph: Graph, name: str | None = None) -> list[np.ndarray]:
        from mmconvert.backends.onnx import to_model
        from mmconvert.ir.opset import CANONICAL_OPSET
        from mmconvert.validators.runners.onnx_runner import ort_message, session

        where = f"after pass '{name}'" if name else "before the passes"
        try:
            model = to_model(graph, opset=graph.opset_imports.get("", CANONICAL_OPSET))
            sess = session(model.SerializeToString())
            feeds = dict(zip([i.name for i in sess.get_inputs()], self._inputs))
            return [np.asarray(v) for v in sess.run(None, feeds)]
        except InputError as e:
            raise ParityError(f"--check-passes: ONNX Runtime cannot run the graph {where}: {e.message}") from None
        except Exception as e:  # noqa: BLE001 - ONNX Runtime raises its own types
            raise ParityError(f"--check-passes: ONNX Runtime cannot run the graph {where}: {ort_message(e, 600)}") from None

    def _compare(self, name: str, graph: Graph, outputs: list[np.ndarray]) -> None:
        for tensor, before, now in zip(graph.outputs, self._outputs, outputs):
            if before.shape != now.shape or before.dtype != now.dtype:
                raise ParityError(f"pass '{name}' changed output '{tensor}': {before.dtype}{list(before.shape)}"
                                  f" became {now.dtype}{list(now.shape)}")
            if before.dtype.kind in "fc":
                ok = np.allclose(now, before, atol=self.atol, rtol=self.rtol, equal_nan=True)
                err = float(np.nanmax(np.abs(now.astype(np.float64) - before))) if before.size else 0.0
            else:
                ok = np.array_equal(now, before)
                err = None
            if not ok:
                detail = f" (max abs error {err:.3g}, atol {self.atol:g}, rtol {self.rtol:g})" if err is not None else ""
                raise ParityError(f"pass '{name}' changed output '{tensor}'{detail}",
                                  hint=f"rerun with --skip {name}, and please report it")


# ---------------------------------------------------------------- onnxsim
SIMPLIFY_HINT = "install it with: pip install 'mmconvert[simplify]' (or pip install onnxsim)"


def simplify(graph: Graph) -> tuple[Graph, PassRecord]:
    """``graph`` simplified by onnxsim (at the source's opset), as a new graph.

    onnxsim is native code running a model: it runs isolated (``ir.sandbox``), so a crash
    or a runaway allocation is an error, not a dead process."""
    try:
        import onnxsim  # noqa: F401
    except ImportError:
        raise InputError("--simplify needs onnxsim, which is not installed", hint=SIMPLIFY_HINT) from None
    from mmconvert.backends.onnx import to_model
    from mmconvert.frontends import get_frontend
    from mmconvert.ir.sandbox import run_isolated

    start = time.perf_counter()
    model = to_model(graph)
    before = len(graph)

    def step() -> bytes:
        import onnxsim

        simplified, ok = onnxsim.simplify(model)
        if not ok:
            raise RuntimeError("onnxsim could not prove its result")
        return simplified.SerializeToString()

    data = run_isolated(step, memory=(4 << 30) + 8 * model.ByteSize(), timeout=1800)
    if data is None:
        raise InputError("onnxsim failed on this model (it crashed, ran out of memory or time, or could not check"
                         " its result)", hint="run without --simplify")
    simplified = get_frontend("onnx").load(data)
    simplified.metadata = dict(graph.metadata)
    simplified.source_files = graph.source_files
    return simplified, PassRecord("onnxsim", max(before - len(simplified), 0), 1, time.perf_counter() - start)

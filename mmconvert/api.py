"""The Python API: ``load``, ``convert``, ``validate``, ``save``, ``inspect``.

``convert`` is the pipeline and nothing else; every stage is a registry look-up::

    frontend.load -> normalize (canonical opset, schema checks) -> the backend's passes
        -> backend.preflight -> claim the output -> backend.emit (into a staging path)
        -> parity check on the staged artifact -> move it into place
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from mmconvert.backends import get_backend
from mmconvert.frontends import FRONTENDS, LoadedSource, detect as detect_frontend, get_frontend, open_source
from mmconvert.ir.errors import InputError, MMConvertError
from mmconvert.ir.graph import Graph
from mmconvert.ir.options import Option
from mmconvert.ir.output import claim
from mmconvert.ir.passes import PassRecord, normalize, run_pipeline

# load options the API takes for every source (each frontend declares its own in OPTIONS,
# each backend its emit options, the parity step its own: anything else is refused)
COMMON_LOAD_OPTIONS = {
    "upgrade_opset": Option("bring the graph to the canonical opset (default True)"),
    "simplify": Option("run onnxsim on the graph first (mmconvert[simplify])"),
    "trust_source_ops": Option("let a source whose graph holds ops with file, network or process effects run"),
}
FRAMEWORKS = FRONTENDS


def load_options(framework: str) -> dict[str, Option]:
    """The load options a ``framework`` source takes (name -> ``ir.options.Option``)."""
    return {**COMMON_LOAD_OPTIONS, **getattr(get_frontend(framework), "OPTIONS", {})}


def parity_options() -> dict[str, Option]:
    """The parity step's options (name -> ``ir.options.Option``)."""
    from mmconvert.validators.core import OPTIONS

    return dict(OPTIONS)


def check_options(options, allowed, what: str, parameters=()) -> None:
    """Refuse an option ``what`` does not take (``InputError``, exit 2), naming the closest
    one it does take (among ``allowed`` and the function's own ``parameters``): a typo
    (``atoll=``, ``optimise=``) is never silently ignored."""
    import difflib

    unknown = [k for k in options if k not in allowed]
    if not unknown:
        return
    name = unknown[0]
    allowed = set(allowed) | set(parameters)
    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"it takes: {', '.join(sorted(allowed)) or 'none'}"
    raise InputError(f"{what}: unknown option '{name}'", hint=hint)


def _pick(options, allowed) -> dict:
    return {k: v for k, v in options.items() if k in allowed}


@dataclass
class ConversionResult:
    source: str
    output: str
    target: str
    graph: Graph
    opset: int | None = None
    seconds: float = 0.0
    parity: Any = None  # a ParityReport once validation has run
    passes: list[PassRecord] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)  # export kind -> its ParityReport (SavedModel, TFLite)

    @property
    def exit_code(self) -> int:
        """0 when every checked artifact matches, else 1 (no check: 0)."""
        reports = [r for r in [self.parity, *self.exports.values()] if r is not None]
        return max([r.exit_code for r in reports] or [0])
    ops_before: dict[str, int] = field(default_factory=dict)  # op histogram before the passes

    @property
    def ops_after(self) -> dict[str, int]:
        return dict(self.graph.op_histogram())


def detect_framework(source) -> str:
    """Name the framework of ``source``: a path or an in-memory model (judged by content)."""
    return detect_frontend(source)


def load(source, framework: str | None = None, *, upgrade_opset: bool = True, **options) -> Graph:
    """Parse a model into the IR (``framework=None`` detects it), normalized to the
    canonical opset unless ``upgrade_opset=False``."""
    framework = framework or detect_frontend(source)
    check_options(options, load_options(framework), f"load ({framework} source)")
    loaded, _ = _load(source, framework, upgrade_opset=upgrade_opset, **options)
    return loaded.graph


def _load(source, framework, *, reference: bool = False, upgrade_opset: bool = True, simplify: bool = False,
          **options) -> tuple[LoadedSource, list[PassRecord]]:
    """The loaded source (with its parity reference when ``reference``) and the records of
    the load-time stages."""
    framework = framework or detect_frontend(source)
    if reference:
        loaded = open_source(framework, source, **options)
    else:
        loaded = LoadedSource(get_frontend(framework).load(source, **options))
    records = []
    if simplify:  # onnxsim first, on the source's opset (mmconvert[simplify])
        from .optimizer import simplify as run_onnxsim

        loaded.graph, record = run_onnxsim(loaded.graph)
        records.append(record)
    if upgrade_opset:
        records.append(normalize(loaded.graph))
    return loaded, records


def save(graph: Graph, output, to: str = "onnx", *, force: bool = False, **options) -> str:
    """Write ``graph`` as a ``to`` artifact (``"ir"`` writes the IR folder); returns the path.
    An existing output is replaced only with ``force=True`` (and only one mmconvert wrote)."""
    sources = graph.source_files
    if to == "ir":
        from mmconvert import ir

        return ir.save(graph, os.fspath(output), force=force, sources=sources)
    from mmconvert.backends import save as save_artifact

    backend = get_backend(to)
    check_options(options, getattr(backend, "OPTIONS", {}), f"save ({to} target)", parameters=("force",))
    return save_artifact(backend, graph, os.fspath(output), force=force, sources=sources, **options).path


def convert(source, output, to: str = "onnx", framework: str | None = None, validate: bool = True, *,
            force: bool = False, optimize: bool | None = None, passes=None, skip=(), observer=None,
            **options) -> ConversionResult:
    """Load ``source``, run the pipeline, emit a ``to`` artifact at ``output`` and (by default)
    check its parity against the source; returns a ConversionResult.

    ``optimize=True`` adds the optimizer's passes (``passes``: their names, default
    ``backends.optimizer_passes(to)``; ``skip``: names left out) to the backend's own;
    the default (``None``) is the backend's choice: on for the code-emitting targets
    (``pytorch``, ``tensorflow``), off for ``onnx``, which keeps the source's structure.
    ``observer`` (see ``mmconvert.optimizer.PassObserver``) sees the graph before the passes
    and after each pass that changed it.

    The artifact is checked while it is still staged: a failure or an interruption leaves
    nothing behind, and a parity mismatch still writes it (exit 1 says so).
    """
    backend = get_backend(to)  # a wrong target fails before any work
    start = time.perf_counter()
    framework = framework or detect_frontend(source)
    loading, emitting, checking = load_options(framework), getattr(backend, "OPTIONS", {}), parity_options()
    check_options(options, {**loading, **emitting, **checking}, f"convert ({framework} source, {to} target)",
                  parameters=("framework", "validate", "force", "optimize", "passes", "skip", "observer"))
    load_opts = _pick(options, loading)
    loaded, records = _load(source, framework, reference=validate, **load_opts)
    graph = loaded.graph
    pipeline = list(backend.PASSES)
    if optimize is None:
        optimize = backend.OPTIMIZE or passes is not None
    if optimize:
        from mmconvert.backends import optimizer_passes
        from mmconvert.ir.passes import get

        for name in list(passes or ()) + list(skip):
            get(name)  # an unknown pass name is a usage error before any work
        extra = optimizer_passes(to, skip=skip) if passes is None else [p for p in passes if p not in skip]
        pipeline = [p for p in pipeline if p not in skip] + [p for p in extra if p not in pipeline]
    emit_opts = _pick(options, emitting)
    sources = _source_paths(source, graph)
    with contextlib.ExitStack() as stack:
        # the reference is the source model run by its own framework (ONNX sources: ONNX
        # Runtime), or else the source as it came, before any pass rewrote the graph
        reference = loaded.reference
        if validate:
            if reference is None:
                reference = stack.enter_context(_reference_onnx(source, graph))
        reference_graph = graph.copy() if validate else None
        ops_before = graph.op_histogram()
        if observer is not None:
            observer.start(graph)
        records += run_pipeline(graph, pipeline, after=None if observer is None else observer.after)
        backend.preflight(graph)
        out = stack.enter_context(claim(output, backend.OUTPUT, force=force, sources=sources))
        emitted = backend.emit(graph, out.staging, **emit_opts)
        result = ConversionResult(source=_describe(source), output=out.path, target=to, graph=graph,
                                  opset=emitted.opset, passes=records, details=emitted.details,
                                  ops_before=ops_before)
        if validate:
            from mmconvert.validators.core import validate as run_validation

            check_opts = _pick(options, checking)
            workdir = os.path.join(out.staging_dir, "reference-cwd")  # the source runs here (removed after)
            try:
                result.parity = run_validation(reference, out.staging, reference_graph, target=to, workdir=workdir,
                                               **check_opts)
            except MMConvertError as e:
                e.message = (f"nothing was written to {out.path}: the parity check could not run: {e.message}"
                             " (give --inputs data.npz or --dim NAME=V, or skip it with --no-validate)")
                raise
            result.parity.candidate = out.path
            exports = emitted.details.get("exports") or {}
            for kind, entry in exports.items():
                opts = dict(check_opts)
                if entry.get("tolerance") and "atol" not in opts and "rtol" not in opts:
                    opts["atol"], opts["rtol"] = entry["tolerance"]
                report = run_validation(reference, os.path.join(out.staging, entry["path"]), reference_graph,
                                        workdir=workdir, **opts)
                report.candidate = os.path.join(out.path, entry["path"])
                result.exports[kind] = report
        out.commit()
    result.seconds = time.perf_counter() - start
    return result


def optimize(source, output, framework: str | None = None, validate: bool = True, *, passes=None, skip=(),
             check_passes: bool = False, dump_after=(), simplify: bool = False, force: bool = False,
             **options) -> ConversionResult:
    """Optimize ``source`` into the ONNX file ``output``: the optimizer's passes (``passes``:
    their names, default ``backends.optimizer_passes("onnx")``; ``skip``: names left out) run
    to a fixed point, then the file is written at the source's opset (or ``opset=N``) and
    (by default) checked against the source on ONNX Runtime.

    ``check_passes=True`` runs ONNX Runtime before and after every pass and raises
    ``ParityError`` naming the first pass that changes an output (``atol``/``rtol``, default
    1e-5/1e-4); ``dump_after=("pass", ...)`` writes the IR folder ``<output>.after-<pass>``
    as it was after each named pass; ``simplify=True`` runs onnxsim first (mmconvert[simplify]).
    The result's ``passes`` say what each pass changed, ``ops_before``/``ops_after`` the op
    histograms."""
    from .optimizer import PassObserver

    observer = PassObserver(os.fspath(output), check=check_passes, dump_after=dump_after, force=force,
                            atol=options.get("atol"), rtol=options.get("rtol"), dims=options.get("dims"))
    if simplify:
        options["simplify"] = True
    try:
        result = convert(source, output, to="onnx", framework=framework, validate=validate, force=force,
                         optimize=True, passes=passes, skip=skip, observer=observer, **options)
    finally:  # the IR after a pass is kept even when a later step fails: that is when it helps
        observer.write_dumps()
    result.details["dumps"] = observer.dumped
    return result


def _describe(source) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__


def _source_paths(source, graph: Graph) -> tuple[str, ...]:
    paths = list(graph.source_files)
    if isinstance(source, (str, os.PathLike)):
        paths.append(os.fspath(source))
    return tuple(paths)


def validate(reference, candidate, framework: str | None = None, target: str | None = None, **options):
    """Numerical parity of ``candidate`` (an artifact path) against ``reference`` (the source
    model, run by its own framework; ONNX sources on ONNX Runtime); returns a
    ``validators.ParityReport``.

    Options: ``atol``, ``rtol``, ``tolerances={output: (atol, rtol)}``, ``seed``, ``samples``,
    ``dims={"batch": 2}``, ``data`` (.npz path, test_data_set folder, or a list of samples),
    ``per_layer``, ``mode`` ("accumulated" or "isolated"), and the source's load options
    (``example_inputs=`` for a torch module ...).
    """
    from mmconvert.validators.core import validate as run_validation

    framework = framework or detect_frontend(reference)
    loading, checking = load_options(framework), parity_options()
    check_options(options, {**loading, **checking}, f"validate ({framework} reference)",
                  parameters=("framework", "target"))
    load_opts, check_opts = _pick(options, loading), _pick(options, checking)
    loaded, _ = _load(reference, framework, reference=True, **load_opts)
    graph, runner = loaded.graph, loaded.reference
    if runner is not None:
        return run_validation(runner, os.fspath(candidate), graph, target=target, **check_opts)
    with _reference_onnx(reference, graph) as ref_path:
        return run_validation(ref_path, os.fspath(candidate), graph, target=target, **check_opts)


@contextlib.contextmanager
def _reference_onnx(source, graph: Graph):
    """A path to the source as an ONNX file (written to a temporary folder when needed)."""
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source) and get_frontend("onnx").detect(source):
        yield os.fspath(source)
        return
    with tempfile.TemporaryDirectory(prefix="mmconvert-ref-") as tmp:
        path = os.path.join(tmp, "reference.onnx")
        if type(source).__module__.startswith("onnx") and hasattr(source, "SerializeToString"):
            with open(path, "wb") as f:
                f.write(source.SerializeToString())
        else:
            get_backend("onnx").emit(graph, path)
        yield path


def inspect(source, framework: str | None = None, **options) -> dict[str, Any]:
    """A summary of a model: ops, inputs/outputs with shapes, parameters, opset (``options``:
    the load options a source needs, e.g. ``input_shapes`` for a PyTorch module)."""
    graph = source if isinstance(source, Graph) else load(source, framework, upgrade_opset=False, **options)
    count, size = graph.parameter_count()

    def describe(names):
        return [{"name": n, "type": str(graph.type_of(n)) if graph.type_of(n) else "?"} for n in names]

    hist = graph.op_histogram()
    return {
        "source": _describe(source),
        "format": graph.metadata.get("source_format", "ir"),
        "producer": " ".join(x for x in (graph.metadata.get("producer_name"), graph.metadata.get("producer_version")) if x),
        "opset_imports": {(k or "ai.onnx"): v for k, v in graph.opset_imports.items()},
        "inputs": describe(graph.real_inputs),
        "outputs": describe(graph.outputs),
        "nodes": sum(hist.values()),
        "ops": dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))),
        "parameters": count,
        "parameter_bytes": size,
        "initializers": len(graph.initializers),
    }

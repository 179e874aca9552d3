"""PyTorch frontend: an ``nn.Module`` (with example inputs), a ``torch.export``
program or ``.pt2`` file, a TorchScript ``.pt`` file, or ``package.module:factory`` ->
``ir.Graph``.

The route (``graph.metadata["pytorch_route"]`` says which was taken, and why):

1. capture with ``torch.export`` (non-strict, then strict; a TorchScript module through
   torch's TS2EP converter);
2. translate the program's ATen ops natively (``frontends/pytorch/aten/``), reading the
   FX metadata for names: parameters under their dotted paths, nodes after their modules;
   ops without a handler are first decomposed by torch (its default table, restricted to
   those ops) and translated again;
3. only when an op is still unmapped, or capture failed for a reason other than the
   model's inputs or data-dependent control flow: ``torch.onnx.export(dynamo=True)``,
   then the TorchScript exporter, read by the ONNX frontend (``fallback.py``).

``capture=`` forces a route: ``"native"`` (fail rather than fall back), ``"dynamo"`` or
``"torchscript"`` (torch.onnx's exporters), ``"auto"`` (the default).

Detection never imports torch for a file; the heavy modules load only in :func:`load`.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile

from mmconvert.ir.options import Option

NAME = "pytorch"
REQUIRES = "torch"
_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
ROUTES = ("auto", "native", "dynamo", "torchscript")


# the options load() takes (name -> Option: what it does): the API refuses any other
OPTIONS = {
    "example_inputs": Option("the example inputs a module is captured with: a tensor, a tuple, or a dict of keyword arguments"),
    "input_shapes": Option("{name: dims} to make example inputs from (names allowed as dims)"),
    "input_dtypes": Option("{name: dtype} of the made example inputs (default float32)"),
    "dynamic_shapes": Option("axes that stay dynamic: torch.export's form, or {name: {axis: 'dim'}}"),
    "capture": Option("the capture route: auto, native, dynamo or torchscript"),
    "trust_source_ops": Option("run a file whose graph holds ops with file, network or process effects"),
}


def detect(source) -> bool:
    """A torch object in memory, or a zip archive laid out as torch.save / torch.export /
    TorchScript write it (``<name>/data.pkl``, ``<name>/archive_format`` ...)."""
    if type(source).__module__.split(".")[0] == "torch":
        return True
    torch = sys.modules.get("torch")  # an object of a torch class exists only if torch is imported
    if torch is not None and isinstance(source, (torch.nn.Module, torch.export.ExportedProgram)):
        return True
    if isinstance(source, str) and not os.path.exists(source) and detect_spec(source):
        return True
    if not isinstance(source, (str, os.PathLike)) or not os.path.isfile(source):
        return False
    try:
        with zipfile.ZipFile(os.fspath(source)) as z:
            names = z.namelist()[:2000]
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    markers = ("/data.pkl", "/archive_format", "/constants.pkl", "/version", "/byteorder", "/.data/version")
    return any(n.endswith(markers) for n in names) and not any(n == "config.json" for n in names)


def detect_spec(text: str) -> bool:
    """``package.module:factory``: a source that is not a path."""
    return isinstance(text, str) and bool(_SPEC.match(text))


def load(source, *, capture: str = "auto", trust_source_ops: bool = False, **options):
    """The model as a validated IR graph (canonical opset); see the module docstring.

    A file's pickles, shape expressions and ops are checked before anything in it runs
    (``frontends/pytorch/safety.py``); ``trust_source_ops=True`` lets its ops through."""
    return _load(source, capture=capture, trust_source_ops=trust_source_ops, **options)[0]


def open_source(source, *, capture: str = "auto", trust_source_ops: bool = False, **options):
    """:func:`load`'s graph with the parity reference: the resolved module (or program, or
    TorchScript module) run by PyTorch (``reference.py``)."""
    from mmconvert.frontends import LoadedSource

    from .reference import SourceRunner

    graph, src = _load(source, capture=capture, trust_source_ops=trust_source_ops, **options)
    return LoadedSource(graph, SourceRunner(src, graph))


def _load(source, *, capture: str, trust_source_ops: bool, **options):
    import torch

    from mmconvert.ir.errors import InputError, UnsupportedError

    from . import capture as cap
    from . import fallback, sources
    from .aten import Unmapped

    if capture not in ROUTES:
        raise InputError(f"capture='{capture}': choose one of {', '.join(ROUTES)}")
    src = sources.resolve(source, trust_source_ops=trust_source_ops, **options)
    program, how, names = None, "", None
    route_reason = ""
    if capture in ("auto", "native"):
        try:
            if src.kind == "torchscript":
                program, how = cap.from_torchscript(src)
            else:
                program, how = cap.export(src)
            names = cap.output_names(program)
        except cap.CaptureFailed as e:
            if capture == "native":
                raise UnsupportedError(f"{src.description}: {e}", hint="try capture='auto' (torch.onnx)") from None
            route_reason = str(e)
    graph = None
    state, params, aliases = _state(src, program)
    if program is not None:
        try:
            graph = _native(program, src, names, aliases)
        except Unmapped as e:
            if capture == "native":
                raise UnsupportedError(f"{src.description}: {e}", hint="try capture='auto' (torch.onnx)") from None
            route_reason = str(e)
    if graph is None:
        if capture == "torchscript":
            src.kind = "torchscript" if src.module is not None else src.kind
        graph = fallback.via_onnx(src, program if capture != "torchscript" else None, names,
                                  _short(route_reason) or f"capture='{capture}' was asked for")
    else:
        graph.metadata["pytorch_route"] = {"path": "native", "capture": how}
    graph.metadata.update({"source_format": "pytorch", "producer_name": "torch", "producer_version": torch.__version__,
                           "state_dict": state, "parameters": params, "state_aliases": aliases})
    graph.source_files = tuple(src.files)
    graph.validate()
    return graph, src


def _short(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 160 else first[:157] + "..."


def _native(program, src, names, aliases):
    from .decompose import prepare
    from .translate import Translator

    program = prepare(program)
    return Translator(program, dim_names=src.dim_names, output_names=names, aliases=aliases).run()


def _state(src, program) -> tuple[list[str], list[str], dict[str, str]]:
    """The keys of the source's ``state_dict`` (what an emitted PyTorch model must accept), the
    names of its parameters, and its tied tensors: every other name of a tensor -> the name
    the module lists first (``encoder.embed_tokens.weight`` -> ``shared.weight``)."""
    module = src.module
    try:
        if module is not None and hasattr(module, "state_dict"):
            tensors = module.state_dict(keep_vars=True)
            params = [n for n, _ in module.named_parameters()]
        elif program is not None:
            tensors = dict(program.state_dict)
            params = list(dict.fromkeys(program.graph_signature.inputs_to_parameters.values()))
        else:
            return [], [], {}
    except Exception:  # noqa: BLE001 - a module whose state_dict raises: no state contract
        return [], [], {}
    first: dict[tuple, str] = {}
    aliases: dict[str, str] = {}
    for key, t in tensors.items():
        if not hasattr(t, "untyped_storage") or t.numel() == 0:
            continue
        ident = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if ident in first:
            aliases[key] = first[ident]
        else:
            first[ident] = key
    return list(tensors), params, aliases

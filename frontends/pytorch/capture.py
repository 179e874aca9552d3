"""Capture: the source as an ``ExportedProgram`` (torch.export, non-strict first, then
strict), and what to say when that fails.

A failure is explained by running the module once as it is: if it fails on the example
inputs too, the inputs do not fit the model (exit 2); if torch.export stumbled on
data-dependent control flow, no exporter can keep the model's meaning (exit 3, with the
usual remedies); anything else is left to the torch.onnx route.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings

import torch

from mmconvert.ir.errors import InputError, UnsupportedError

from .sources import Source, _first_line

_DATA_DEPENDENT = ("data-dependent", "GuardOnDataDependentSymNode", "data dependent", "Dynamic control flow",
                   "dynamic control flow")


class CaptureFailed(Exception):
    """torch.export could not capture the model for a reason another exporter may avoid."""


@contextlib.contextmanager
def quiet():
    """torch's own warnings and log records off while it tries (a failure is explained once, by us)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    sink = io.StringIO()  # torch prints the failing graph on some errors
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def eval_mode(module):
    """The module in eval mode for the capture, its training flags restored after."""
    if module is None or not isinstance(module, torch.nn.Module):
        yield
        return
    flags = {m: m.training for m in module.modules()}
    module.eval()
    try:
        yield
    finally:
        for m, flag in flags.items():
            m.training = flag


def export(src: Source):
    """(ExportedProgram, how it was captured)."""
    if src.program is not None:
        return src.program, "given as an ExportedProgram"
    module = src.module
    errors = []
    with eval_mode(module), quiet():
        for strict in (False, True):
            try:
                ep = torch.export.export(module, src.args, src.kwargs, dynamic_shapes=src.dynamic_shapes, strict=strict)
                return ep, f"torch.export ({'strict' if strict else 'non-strict'})"
            except Exception as e:  # noqa: BLE001 - torch.export raises many types
                errors.append(e)
                if _constraint(e) or _data_dependent(e):
                    break
    explain(src, errors[0] if len(errors) == 1 else errors[-1] if _data_dependent(errors[-1]) else errors[0])


def explain(src: Source, error: Exception):
    """Raise the error that says why ``src`` could not be captured."""
    text = str(error)
    if _constraint(error):
        fix = _suggested_fix(text)
        raise InputError(f"{src.description}: {_constraint_line(text)}",
                         hint=fix or "give the dynamic dims examples larger than 1, or drop --dynamic for that axis")
    eager = _run_eagerly(src)
    if eager is not None:
        raise InputError(f"{src.description}: the model fails on the example inputs: {type(eager).__name__}: "
                         f"{_first_line(eager)}",
                         hint="check --input-shape/--input-dtype (or example_inputs) against what forward expects")
    if _data_dependent(error):
        where = _user_frame(text)
        raise UnsupportedError(f"{src.description}: torch.export cannot capture data-dependent control flow"
                               + (f" ({where})" if where else ""),
                               hint="branch with torch.cond / torch.where instead of Python if on tensor values, or"
                                    " export a variant without it; a traced export would silently keep one branch")
    raise CaptureFailed(f"torch.export failed: {type(error).__name__}: {_first_line(error)}")


def _run_eagerly(src: Source):
    if src.module is None:
        return None
    try:
        with eval_mode(src.module), torch.no_grad(), quiet():
            src.module(*src.args, **src.kwargs)
    except Exception as e:  # noqa: BLE001 - the user's model raised
        return e
    return None


def _constraint(e: Exception) -> bool:
    text = str(e)
    return "Constraints violated" in text or "conflicts between user-specified ranges" in text or \
        "specialized" in text and "Dim" in text


def _constraint_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip(" -")
        if "specialized" in line or "Not all values" in line or "must" in line:
            return line[:300]
    return text.splitlines()[0][:300]


def _suggested_fix(text: str) -> str | None:
    m = re.search(r"Suggested fixes:\s*\n\s*(.+)", text)
    return f"torch.export suggests: {m.group(1).strip()}" if m else None


def _data_dependent(e: Exception) -> bool:
    text = f"{type(e).__name__}: {e}"
    return any(k in text for k in _DATA_DEPENDENT)


def _user_frame(text: str) -> str | None:
    frames = re.findall(r'File "([^"]+)", line (\d+)', text)
    frames = [f for f in frames if "/torch/" not in f[0] and "site-packages" not in f[0]]
    if frames:
        path, line = frames[-1]
        return f"{path.rsplit('/', 1)[-1]}:{line}"
    m = re.search(r"\(([\w./-]+\.py):(\d+) in (\w+)\)", text)
    return f"{m.group(1).rsplit('/', 1)[-1]}:{m.group(2)} in {m.group(3)}" if m else None


def from_torchscript(src: Source):
    """A TorchScript module as an ExportedProgram (torch's TS2EP converter)."""
    try:
        from torch._export.converter import TS2EPConverter

        with quiet():
            program = TS2EPConverter(src.module, src.args, src.kwargs or None).convert()
    except Exception as e:  # noqa: BLE001 - the converter is experimental and raises anything
        raise CaptureFailed(f"TorchScript -> torch.export conversion failed: {type(e).__name__}: {_first_line(e)}") \
            from None
    return program, "TorchScript converted by torch.export's TS2EP converter"


def output_names(program) -> list[str]:
    """Names for the program's flat outputs from their place in the returned structure:
    ``last_hidden_state`` for a field, ``output_0`` for a tuple item, ``output`` alone."""
    spec = program.call_spec.out_spec
    if spec is None:
        n = len(program.graph_signature.user_outputs)
        return [f"output_{i}" for i in range(n)] if n > 1 else ["output"]
    return output_names_of(spec)


def output_names_of(spec, tensors_only: list | None = None) -> list[str]:
    """Names for the leaves of the pytree ``spec`` (with ``tensors_only``, the leaf values: only
    the tensors among them are named, as only they become outputs)."""
    from torch.utils import _pytree as pytree

    n = spec.num_leaves
    try:
        tree = pytree.tree_unflatten(list(range(n)), spec)
        leaves = pytree.tree_flatten_with_path(tree)[0]
    except Exception:  # noqa: BLE001 - a container type that cannot hold ints
        return [f"output_{i}" for i in range(n)] if n > 1 else ["output"]
    names = []
    for i, (path, _) in enumerate(leaves):
        if tensors_only is not None and not isinstance(tensors_only[i], torch.Tensor):
            continue
        parts = []
        for k in path:
            for attr in ("key", "name", "idx"):
                if hasattr(k, attr):
                    parts.append(str(getattr(k, attr)))
                    break
        name = "_".join(parts)
        if not name:
            name = "output"
        elif not re.match(r"[A-Za-z_]", name):
            name = f"output_{name}"
        names.append(name)
    if len(set(names)) != len(names):
        return [f"output_{i}" for i in range(len(names))]
    return names

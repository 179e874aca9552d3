"""What a PyTorch source is, and the example inputs it is captured with.

A source is one of:

- a ``torch.nn.Module`` with ``example_inputs=`` (a tensor, a tuple of positional
  arguments, or a dict of keyword arguments), or with ``input_shapes=`` /
  ``input_dtypes=`` from which example inputs are made;
- a ``torch.export.ExportedProgram``, or a ``.pt2`` file written by ``torch.export.save``
  (its own example inputs and dynamic dims come with it);
- a TorchScript ``.pt`` file (``torch.jit.save``) or ``torch.jit.ScriptModule``;
- a factory spec ``package.module:factory`` (the CLI's way to name a module): the module is
  imported and ``factory()`` called; it returns the module, or ``(module, example_inputs)``.
  Importing it runs the user's code, as ``python -c "import package.module"`` would.

A pickled module (``torch.save(model)``) is refused: unpickling runs arbitrary code from
the file.  ``dynamic_shapes`` takes torch.export's own form (``Dim`` objects) or names
(``{"input_ids": {0: "batch", 1: "seq"}}``); either way the IR's symbolic dims carry
those names.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any

import torch

from mmconvert.ir.errors import InputError, ModelLoadError

from .tensors import DTYPE_NAMES

SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass
class Source:
    kind: str  # module | program | torchscript
    description: str
    module: Any = None  # what runs as the parity reference
    program: Any = None  # an ExportedProgram given as the source
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    dynamic_shapes: Any = None
    dim_names: dict[str, dict[int, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def is_factory_spec(text) -> bool:
    return isinstance(text, str) and bool(SPEC.match(text))


def archive_kind(path: str) -> str | None:
    """"pt2" (torch.export.save), "torchscript" (torch.jit.save), "pickle" (torch.save) or None."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()[:5000]
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if any(n.endswith("/archive_format") or n == "archive_format" for n in names) and \
            any("/models/" in n or n.startswith("models/") for n in names):
        return "pt2"
    if any("/code/" in n for n in names) and any(n.endswith("/constants.pkl") for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") for n in names):
        return "pickle"
    return None


def resolve(source, *, example_inputs=None, input_shapes=None, input_dtypes=None, dynamic_shapes=None,
            trust_source_ops: bool = False, **_ignored) -> Source:
    """The source as a :class:`Source`, its example inputs made and checked.  A file is
    checked by :mod:`.safety` before torch reads it and before anything in it runs
    (``trust_source_ops`` lets its ops through, never a pickle)."""
    if isinstance(source, torch.export.ExportedProgram):
        return _program(source, "an ExportedProgram", dynamic_shapes)
    if isinstance(source, (str, os.PathLike)) and os.path.exists(os.fspath(source)):
        return _file(os.fspath(source), example_inputs, input_shapes, input_dtypes, dynamic_shapes,
                     trust=bool(trust_source_ops))
    if is_factory_spec(source):
        module, given = _call_factory(source)
        if example_inputs is None:
            example_inputs = given
        return _module(module, source, example_inputs, input_shapes, input_dtypes, dynamic_shapes)
    if isinstance(source, torch.jit.ScriptModule):
        return _module(source, "a ScriptModule", example_inputs, input_shapes, input_dtypes, dynamic_shapes,
                       kind="torchscript")
    if isinstance(source, torch.nn.Module):
        return _module(source, type(source).__name__, example_inputs, input_shapes, input_dtypes, dynamic_shapes)
    if isinstance(source, str):
        raise InputError(f"{source}: no such file, and not a factory spec (package.module:factory)")
    raise InputError(f"a {type(source).__name__} is not a PyTorch model (give an nn.Module, an ExportedProgram,"
                     " a .pt2 or TorchScript .pt file, or package.module:factory)")


# ------------------------------------------------------------------ files
def _file(path, example_inputs, input_shapes, input_dtypes, dynamic_shapes, trust=False) -> Source:
    from . import safety

    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not a PyTorch file")
    kind = archive_kind(path)
    if kind == "pt2":
        program = safety.load_pt2(path, trust=trust)  # checked, then loaded with no pickle running
        src = _program(program, path, dynamic_shapes)
        src.files.append(os.path.abspath(path))
        return src
    if kind == "torchscript":
        safety.check_torchscript_archive(path, trust=trust)  # its code, before __setstate__ runs in load
        try:
            module = torch.jit.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{path}: cannot read this TorchScript file: {_first_line(e)}") from None
        safety.check_torchscript(module, path, trust=trust)  # every graph, before it is run or captured
        src = _module(module, path, example_inputs, input_shapes, input_dtypes, dynamic_shapes, kind="torchscript")
        src.files.append(os.path.abspath(path))
        return src
    if kind == "pickle":
        raise InputError(f"{path}: a pickled PyTorch file (torch.save) is not loaded: unpickling runs code from the file,"
                         " and a state_dict holds no model",
                         hint="save the model with torch.export.save (.pt2) or torch.jit.save (.pt), or name its code as"
                              " package.module:factory")
    raise ModelLoadError(f"{path}: not a PyTorch model file (.pt2 from torch.export.save, or TorchScript .pt)")


def _program(program, description: str, dynamic_shapes) -> Source:
    example = getattr(program, "example_inputs", None)
    if example is None:
        raise InputError(f"{description}: the program carries no example inputs", hint="export it with torch 2.5 or newer")
    args, kwargs = example
    src = Source("program", description, module=None, program=program, args=tuple(args), kwargs=dict(kwargs or {}))
    names = _user_input_names(program)
    src.dim_names = _names_only(dynamic_shapes, names)
    return src


def _user_input_names(program) -> list[str]:
    from torch.export.graph_signature import InputKind

    return [s.arg.name for s in program.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]


# ------------------------------------------------------------------ factories
def _call_factory(spec: str):
    module_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        try:
            mod = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                raise InputError(f"{spec}: no module named '{e.name}' (searched the current folder and sys.path)",
                                 hint="run from the folder that holds the package, or set PYTHONPATH") from None
            raise InputError(f"{spec}: importing '{module_name}' failed: {_first_line(e)}") from None
        except Exception as e:  # noqa: BLE001 - the user's module raised while importing
            raise InputError(f"{spec}: importing '{module_name}' raised {type(e).__name__}: {_first_line(e)}",
                             hint="fix the module, or check it with python -c 'import " + module_name + "'") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    target = mod
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise InputError(f"{spec}: '{module_name}' has no attribute '{attr}'")
    if not callable(target):
        raise InputError(f"{spec}: '{attr}' is not callable (a factory returning the module)")
    try:
        made = target()
    except Exception as e:  # noqa: BLE001 - the user's factory raised
        raise InputError(f"{spec}: the factory raised {type(e).__name__}: {_first_line(e)}",
                         hint="the factory is called with no arguments and must return a torch.nn.Module") from None
    given = None
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module):
        made, given = made
    if not isinstance(made, torch.nn.Module):
        raise InputError(f"{spec}: the factory returned a {type(made).__name__}, not a torch.nn.Module")
    return made, given


# ------------------------------------------------------------------ modules
def forward_names(module) -> list[str]:
    """The names of ``forward``'s parameters (what ``--input-shape NAME:...`` refers to)."""
    if isinstance(module, torch.jit.ScriptModule):
        try:
            return [a.name for a in module.forward.schema.arguments[1:]]
        except Exception:  # noqa: BLE001
            return []
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _module(module, description, example_inputs, input_shapes, input_dtypes, dynamic_shapes, kind="module") -> Source:
    names = forward_names(module)
    src = Source(kind, description, module=module)
    if example_inputs is None and not input_shapes:
        raise InputError(f"{description}: a PyTorch module needs example inputs to be captured",
                         hint="pass example_inputs=(tensor, ...) or --input-shape NAME:1,3,224,224"
                              + (f" (forward takes: {', '.join(names)})" if names else ""))
    dim_names = _names_only(dynamic_shapes, names)
    if example_inputs is not None:
        if isinstance(example_inputs, dict):
            src.kwargs = dict(example_inputs)
        elif isinstance(example_inputs, (list, tuple)):
            src.args = tuple(example_inputs)
        else:
            src.args = (example_inputs,)
    else:
        src.kwargs = _make_inputs(description, names, input_shapes, input_dtypes or {}, dim_names)
    _check_binding(module, description, names, src)
    src.args, src.kwargs = _avoid_specialization(names, src.args, src.kwargs, dim_names)
    src.dim_names = dim_names
    src.dynamic_shapes = _torch_dynamic_shapes(dynamic_shapes, names, dim_names, src)
    return src


def _make_inputs(description, names, shapes: dict, dtypes: dict, dim_names) -> dict:
    unknown = [n for n in list(shapes) + list(dtypes) if names and n not in names]
    if unknown:
        raise InputError(f"{description}: forward() has no input named '{unknown[0]}'",
                         hint=f"forward takes: {', '.join(names)}")
    out = {}
    order = [n for n in names if n in shapes] or list(shapes)
    for name in order:
        dims = []
        for axis, d in enumerate(shapes[name]):
            if isinstance(d, str):  # a named dim: dynamic, example size as the validator picks
                dim_names.setdefault(name, {})[axis] = d
                d = 2 if axis == 0 else 16
            dims.append(int(d))
        dtype_name = dtypes.get(name, "float32")
        dtype = DTYPE_NAMES.get(str(dtype_name).replace("torch.", ""))
        if dtype is None:
            raise InputError(f"--input-dtype {name}:{dtype_name}: unknown dtype",
                             hint="one of float32, float16, bfloat16, float64, int64, int32, int8, uint8, bool")
        if dtype.is_floating_point:
            out[name] = torch.randn(dims, dtype=torch.float32).to(dtype)
        elif dtype == torch.bool:
            out[name] = torch.ones(dims, dtype=dtype)
        else:
            out[name] = torch.ones(dims, dtype=dtype)  # valid as an index and as a mask
    return out


def _check_binding(module, description, names, src: Source) -> None:
    if isinstance(module, torch.jit.ScriptModule):
        return
    try:
        inspect.signature(module.forward).bind(*src.args, **src.kwargs)
    except TypeError as e:
        raise InputError(f"{description}: the example inputs do not match forward({', '.join(names)}): {e}",
                         hint="give one example per forward argument (example_inputs=(...) or --input-shape NAME:...)") \
            from None
    except ValueError:
        return


def _names_only(dynamic_shapes, names: list[str]) -> dict[str, dict[int, str]]:
    """input -> axis -> symbolic name, from either form of ``dynamic_shapes``."""
    out: dict[str, dict[int, str]] = {}
    if not dynamic_shapes:
        return out
    items = dynamic_shapes.items() if isinstance(dynamic_shapes, dict) else zip(names, dynamic_shapes)
    for name, spec in items:
        if spec is None:
            continue
        pairs = spec.items() if isinstance(spec, dict) else enumerate(spec) if isinstance(spec, (list, tuple)) else []
        for axis, d in pairs:
            label = d if isinstance(d, str) else getattr(d, "__name__", None)
            if label and isinstance(label, str) and label.isidentifier():
                out.setdefault(str(name), {})[int(axis)] = label
    return out


def _torch_dynamic_shapes(dynamic_shapes, names, dim_names, src: Source):
    """``dynamic_shapes`` in torch.export's form (names become shared ``Dim`` objects)."""
    if not dim_names and not dynamic_shapes:
        return None
    def dim(label):
        # a named dim is dynamic with the range and equalities torch infers from the model
        # (max_position_embeddings bounds a sequence; inputs sharing "batch" are found equal)
        return torch.export.Dim.DYNAMIC

    if dynamic_shapes and not _only_names(dynamic_shapes):
        return dynamic_shapes  # torch.export's own form: passed as it is
    spec: dict[str, Any] = {}
    for i, name in enumerate(names):
        value = src.kwargs.get(name) if name in src.kwargs else (src.args[i] if i < len(src.args) else None)
        if value is None:
            continue
        axes = dim_names.get(name)
        spec[name] = {a: dim(lbl) for a, lbl in axes.items()} if axes else None
    unknown = [n for n in dim_names if n not in names]
    if unknown:
        raise InputError(f"--dynamic {unknown[0]}: forward() has no input of that name",
                         hint=f"forward takes: {', '.join(names)}")
    return spec


def _only_names(dynamic_shapes) -> bool:
    values = dynamic_shapes.values() if isinstance(dynamic_shapes, dict) else dynamic_shapes
    for spec in values:
        if spec is None:
            continue
        inner = spec.values() if isinstance(spec, dict) else spec if isinstance(spec, (list, tuple)) else [spec]
        if any(d is not None and not isinstance(d, str) for d in inner):
            return False
    return True


def _avoid_specialization(names, args, kwargs, dim_names):
    """An example size of 1 on an axis meant to be dynamic makes torch.export specialize it
    to the constant 1; warn, and capture with that axis doubled (the values repeated)."""
    if not dim_names:
        return args, kwargs
    args = list(args)
    kwargs = dict(kwargs)
    for i, name in enumerate(names):
        for axis, label in dim_names.get(name, {}).items():
            holder, key = (kwargs, name) if name in kwargs else (args, i) if i < len(args) else (None, None)
            if holder is None:
                continue
            t = holder[key]
            if isinstance(t, torch.Tensor) and axis < t.dim() and t.shape[axis] == 1:
                warnings.warn(f"input '{name}' axis {axis} is meant to be dynamic ('{label}') but its example size is 1,"
                              " which torch.export would specialize to a constant; capturing with an example of size 2"
                              " (the values repeated) instead", stacklevel=4)
                holder[key] = torch.cat([t, t], dim=axis)
    return tuple(args), kwargs


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]

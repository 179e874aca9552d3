"""What a PyTorch *file* may make mmconvert do: nothing in it runs.

A ``.pt2`` archive (``torch.export.save``) and a TorchScript ``.pt`` (``torch.jit.save``) are
untrusted data.  torch's own loaders would run code from them (``pickle`` with
``weights_only=False``, a shared library, ``sympy.sympify`` = ``eval`` on shape expressions,
guard code given to ``exec``, TorchScript ``__setstate__``), and capturing or running the
loaded graph executes its ops (``aten::from_file`` creates a file).  The rules, checked
before torch sees the file or anything runs:

``.pt2`` (:func:`load_pt2`), read with :mod:`zipfile` first:

- every member name is relative, without ``..`` or a backslash;
- no AOTInductor member (``data/aotinductor/``) and no shared library (``.so``, ``.dll``,
  ``.dylib``, ``.pyd``): loading one runs native code;
- no ``custom_obj_*`` / ``opaque_obj_*`` constant (TorchScript / Python objects, unpickled
  with ``torch._C._pickle_load_obj`` / ``pickle.loads``);
- every member torch would unpickle (sample inputs, the legacy ``data/weights/<m>.pt`` and
  ``data/constants/<m>.pt``, a weight or constant whose payload config says ``use_pickle``,
  the older format's ``serialized_*.pt``, and any other member that is a pickle or a
  ``torch.save`` zip) must load with torch's restricted unpickler
  (``torch.load(..., weights_only=True)``): tensors, containers and numbers only.  A pickle
  is refused even with ``trust_source_ops`` (it is not an op, it is code);
- each ``models/*.json`` (and the old ``serialized_exported_program.json``): every node
  ``target`` and operator argument is an allowed op (below, as a string), every ``expr_str``
  is an expression of numbers, symbols and the sympy functions in :data:`SYMPY_FUNCTIONS`
  (checked with :mod:`ast`, before sympy's ``eval`` sees it), and every ``guards_code``
  entry (which torch ``exec``'s when the program's module is made) is a comparison of input
  sizes in the same small grammar;
- then ``torch.export.load`` runs inside :func:`_guarded`: ``torch.load`` is forced to
  ``weights_only=True``, ``pickle.loads`` in torch's pt2 loader, ``torch._C._pickle_load_obj``
  and the AOTInductor loader raise, for the duration of the call only (a second guard for
  members the check did not anticipate; a trip is an :class:`UnsafeSourceError`).

Ops (:func:`check_program` for an ``ExportedProgram``'s FX graph and its nested graph
modules; :func:`check_torchscript` for a TorchScript module's graphs, every method of every
submodule, ``__setstate__`` included, plus :func:`check_torchscript_archive`, a static look
at the archive's ``code/`` before ``torch.jit.load`` runs ``__setstate__``):

- allowed namespaces: ``aten``, ``prims``, ``quantized`` (C++ quantized kernels),
  ``quantized_decomposed`` (PT2E's pure-tensor quantize/dequantize ops), and for TorchScript
  ``prim`` (the interpreter's own ops);
- torchvision's compute ops only: ``torchvision::{nms, roi_align, roi_pool, ps_roi_align,
  ps_roi_pool, deform_conv2d}`` (never its ``read_file`` / ``write_file`` / decoders);
- higher-order ops in :data:`ALLOWED_HOPS` (control flow and wrappers whose bodies are
  nested graphs checked in turn; ``call_torchbind``, delegates, ``inductor_compiled_code``,
  ``invoke_leaf_function``, ``flat_apply`` ... run code that is not a graph and are refused);
  an op passed as an argument (``auto_functionalized``, ``with_effects``, ``out_dtype``) is
  checked as a target;
- Python callables: ``operator`` arithmetic / comparisons / ``getitem``, ``math`` functions
  and torch's ``sym_*`` helpers (:data:`OPERATOR_FUNCTIONS`, :data:`MATH_FUNCTIONS`,
  :data:`SYM_FUNCTIONS`);
- denied even in an allowed namespace (file, network or process effects), found from
  ``torch._C._jit_get_all_schemas()``: ``aten::from_file`` (maps / creates a file),
  ``aten::save`` (writes a file), ``prim::PythonOp`` / ``prim::IgnoredPythonOp`` (call
  Python), ``prim::rpc_async`` / ``prim::rpc_sync`` / ``prim::rpc_remote`` (network), plus
  any op of an allowed namespace whose schema takes a ``str`` argument named like a file or
  path (:func:`denied_ops` computes the set);
- TorchScript: no value of a custom class (``__torch__.torch.classes.*``) other than
  ``__torch__.torch.classes.quantized.*`` (packed weights): their methods are native code;
  no other namespace (``ops.mylib.op``).

``trust_source_ops=True`` lets ops through (the user vouches for the model's code); the
pickle, member-name, shared-library, object-constant and expression rules still hold.
An in-memory ``nn.Module``, ``ExportedProgram`` or ``ScriptModule`` is the caller's own code
and is not checked here.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import operator
import pickletools
import posixpath
import re
import warnings
import zipfile
from functools import lru_cache

import torch

from mmconvert.ir.errors import ModelLoadError, UnsafeSourceError

ALLOWED_NAMESPACES = frozenset({"aten", "prims", "quantized", "quantized_decomposed"})
TORCHSCRIPT_NAMESPACES = ALLOWED_NAMESPACES | {"prim"}
TORCHVISION_OPS = frozenset({"nms", "roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool", "deform_conv2d"})
ALLOWED_HOPS = frozenset({
    "cond", "while_loop", "while_loop_stack_output", "map_impl", "scan", "associative_scan",
    "wrap", "wrap_with_set_grad_enabled", "wrap_with_autocast", "auto_functionalized",
    "auto_functionalized_v2", "invoke_subgraph", "flex_attention", "hints_wrapper", "with_effects",
    "out_dtype", "tag_activation_checkpoint", "wrap_activation_checkpoint", "run_const_graph",
})
# denied whatever the schema scan finds (effects on files, processes, the network, Python)
_DENIED_ALWAYS = frozenset({
    "aten::from_file", "aten::save", "prim::PythonOp", "prim::IgnoredPythonOp", "prim::rpc_async",
    "prim::rpc_sync", "prim::rpc_remote",
})
_PATHLIKE_ARG = re.compile(r"file|path|dir|url", re.I)

OPERATOR_FUNCTIONS = frozenset({
    "getitem", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs",
    "eq", "ne", "lt", "le", "gt", "ge", "and_", "or_", "xor", "not_", "invert", "lshift", "rshift",
    "matmul", "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod",
})
MATH_FUNCTIONS = frozenset({
    "ceil", "floor", "trunc", "sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "tanh",
    "pow", "fabs", "isnan", "isinf", "isfinite",
})
SYM_FUNCTIONS = frozenset({
    "sym_int", "sym_float", "sym_not", "sym_ite", "sym_max", "sym_min", "sym_sqrt", "_sym_sqrt",
    "sym_sum", "sym_fresh_size", "sym_size", "sym_stride", "sym_numel", "sym_storage_offset",
    "sym_constrain_range", "sym_constrain_range_for_size", "_constrain_as_size",
})
# torch._export.serde.serialize's sympy_functions, plus the sympy basics its printer writes
SYMPY_FUNCTIONS = frozenset({
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt", "FloorToInt",
    "CeilDiv", "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv",
    "IsNonOverlappingAndDenseIndicator", "TruncToFloat", "TruncToInt", "RoundToInt", "RoundDecimal",
    "ToFloat", "Identity", "OpaqueUnaryFn_sqrt", "OpaqueUnaryFn_exp", "OpaqueUnaryFn_log",
    "Symbol", "Integer", "Float", "Rational", "Max", "Min", "Eq", "Ne", "Lt", "Le", "Gt", "Ge",
    "StrictLessThan", "StrictGreaterThan", "LessThan", "GreaterThan", "Unequality", "Equality",
    "Add", "Mul", "Pow", "Abs", "Piecewise", "And", "Or", "Not", "sqrt", "floor", "ceiling",
    "true", "false", "oo", "zoo", "nan", "int_oo", "Tuple",
})
# the names torch's guard code may use (size queries on the inputs, L = the inputs)
_GUARD_METHODS = frozenset({"size", "stride", "storage_offset", "dim", "numel"})
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIB_SUFFIXES = (".so", ".dll", ".dylib", ".pyd")
_OLD_FORMAT_PICKLES = ("serialized_state_dict.pt", "serialized_constants.pt", "serialized_example_inputs.pt")


def _refuse(where: str, what: str, *, op: str | None = None, hint: str | None = None,
            tail: str = "not loaded; nothing in it ran"):
    raise UnsafeSourceError(f"{where}: {what}: {tail}", op=op, where=where, hint=hint)


_NOT_RUN = "refused before anything in it ran"


# ============================================================================ op rules
@lru_cache(maxsize=1)
def denied_ops() -> frozenset[str]:
    """Ops of the allowed namespaces with file, network or process effects: the fixed list,
    plus every registered schema that takes a ``str`` argument named like a file or a path."""
    found = set(_DENIED_ALWAYS)
    try:
        schemas = torch._C._jit_get_all_schemas()
    except Exception:  # noqa: BLE001 - an old torch: the fixed list alone
        schemas = []
    for s in schemas:
        ns = s.name.split("::")[0]
        if ns not in TORCHSCRIPT_NAMESPACES:
            continue
        for a in s.arguments:
            if "str" in str(a.type) and _PATHLIKE_ARG.search(a.name):
                found.add(s.name)
    return frozenset(found)


def qualified_op_problem(qualified: str) -> str | None:
    """Why ``ns::op`` is refused (None when allowed)."""
    ns, _, name = qualified.partition("::")
    if qualified in denied_ops():
        return f"op {qualified} reaches outside the conversion (files, processes or the network)"
    if ns == "torchvision" and name in TORCHVISION_OPS:
        return None
    if ns == "higher_order":
        return None if name in ALLOWED_HOPS else f"higher-order op {name} runs code that is not a checked graph"
    if ns not in ALLOWED_NAMESPACES:
        return f"op {qualified} is from namespace '{ns}', which mmconvert does not run from a file"
    return None


def _target_string_problem(target: str, trust: bool = False) -> str | None:
    """The rule for a serialized target string (``torch.ops.aten.relu.default`` ...); with
    ``trust`` any ``torch.ops`` op passes, never another Python name (``torch.os.system``)."""
    if not isinstance(target, str):
        return f"target {target!r} is not a string"
    parts = target.split(".")
    if any(not _SAFE_NAME.match(p) or p.startswith("__") for p in parts):
        return f"target {target!r} is not an op name"
    if parts[:2] == ["torch", "ops"]:
        if trust and len(parts) in (4, 5):
            return None
        if len(parts) == 4 and parts[2] == "higher_order":
            return qualified_op_problem(f"higher_order::{parts[3]}")
        if len(parts) in (4, 5) and parts[2] != "higher_order":
            return qualified_op_problem(f"{parts[2]}::{parts[3]}")
        return f"target {target!r} is not an op name"
    if len(parts) == 2:
        mod, fn = parts
        if mod == "_operator" and fn in OPERATOR_FUNCTIONS:
            return None
        if mod == "math" and fn in MATH_FUNCTIONS:
            return None
        if mod == "torch" and fn in SYM_FUNCTIONS:
            return None
    return f"target {target!r} is not an allowed op"


_PY_FUNCS = None


def _python_functions() -> dict:
    global _PY_FUNCS
    if _PY_FUNCS is None:
        table = {}
        for name in OPERATOR_FUNCTIONS:
            if hasattr(operator, name):
                table[getattr(operator, name)] = f"operator.{name}"
        for name in MATH_FUNCTIONS:
            if hasattr(math, name):
                table[getattr(math, name)] = f"math.{name}"
        for name in SYM_FUNCTIONS:
            fn = getattr(torch, name, None)
            if fn is not None:
                table[fn] = f"torch.{name}"
        _PY_FUNCS = table
    return _PY_FUNCS


def _callable_problem(target) -> tuple[str, str | None]:
    """(a name for ``target``, why it is refused or None)."""
    from torch._ops import HigherOrderOperator, OpOverload, OpOverloadPacket

    if isinstance(target, OpOverload):
        name = target._schema.name
        return name, qualified_op_problem(name)
    if isinstance(target, OpOverloadPacket):
        name = target._qualified_op_name
        return name, qualified_op_problem(name)
    if isinstance(target, HigherOrderOperator):
        name = f"higher_order::{target.name()}"
        return name, qualified_op_problem(name)
    try:
        known = _python_functions().get(target)
    except TypeError:  # unhashable
        known = None
    if known is not None:
        return known, None
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or type(target).__name__
    module = getattr(target, "__module__", None)
    full = f"{module}.{name}" if module else str(name)
    return full, f"graph calls the Python callable {full}, which is not an allowed op"


# ============================================================================ FX programs
def check_program(program, description: str, trust: bool = False) -> None:
    """Refuse (UnsafeSourceError) an ExportedProgram whose graph, or a graph nested in it,
    calls an op outside the rules (see the module docstring).  ``trust`` lets ops through."""
    if trust:
        return
    gm = getattr(program, "graph_module", program)
    modules = gm.modules() if hasattr(gm, "modules") else [gm]
    for sub in modules:
        graph = getattr(sub, "graph", None)
        if not isinstance(graph, torch.fx.Graph):
            continue
        for node in graph.nodes:
            if node.op in ("placeholder", "output", "get_attr"):
                continue
            if node.op != "call_function":
                _refuse(description, f"node '{node.name}' is a {node.op} ({node.target}), which a program file may not hold",
                        op=str(node.target), hint=_TRUST_HINT)
            _check_fx_callable(node.target, node.name, description)
            for value in torch.utils._pytree.tree_leaves((node.args, node.kwargs)):
                if callable(value) and not isinstance(value, (torch.fx.Node, torch.Tensor, torch.nn.Module, type)):
                    _check_fx_callable(value, node.name, description)


_TRUST_HINT = "if you trust this model's code, pass --trust-source-ops (trust_source_ops=True)"


def _check_fx_callable(target, node_name: str, description: str) -> None:
    name, problem = _callable_problem(target)
    if problem:
        _refuse(description, f"node '{node_name}': {problem}", op=name, hint=_TRUST_HINT, tail=_NOT_RUN)


# ============================================================================ TorchScript
def check_torchscript(module, description: str, trust: bool = False) -> None:
    """Refuse a TorchScript module whose code (``forward`` inlined, every method of every
    submodule, ``__setstate__`` included) uses an op outside the rules."""
    if trust:
        return
    graphs = []
    try:
        graphs.append(("forward", module.inlined_graph))
    except Exception:  # noqa: BLE001 - a module without forward
        pass
    try:
        named = list(module.named_modules())
    except Exception:  # noqa: BLE001
        named = [("", module)]
    for prefix, sub in named:
        c = getattr(sub, "_c", None)
        if c is None or not hasattr(c, "_method_names"):
            continue
        for method in c._method_names():
            try:
                g = c._get_method(method).graph.copy()
                torch._C._jit_pass_inline(g)
            except Exception:  # noqa: BLE001
                continue
            graphs.append((f"{prefix + '.' if prefix else ''}{method}", g))
    for where, g in graphs:
        _walk_ts_block(g.nodes(), where, description)


def _walk_ts_block(nodes, where: str, description: str) -> None:
    for node in nodes:
        kind = node.kind()
        problem = qualified_op_problem(kind) if kind.split("::")[0] != "prim" else (
            qualified_op_problem(kind) if kind in denied_ops() else None)
        if kind.split("::")[0] not in TORCHSCRIPT_NAMESPACES and problem is None:
            problem = f"op {kind} is from namespace '{kind.split('::')[0]}', which mmconvert does not run from a file"
        if problem is None:
            for v in list(node.inputs()) + list(node.outputs()):
                cls = _custom_class(v.type())
                if cls:
                    problem = f"{kind} uses an object of the TorchScript class {cls} (native code)"
                    break
        if problem:
            _refuse(description, f"{where}: {problem}", op=kind, hint=_TRUST_HINT, tail=_NOT_RUN)
        for block in node.blocks():
            _walk_ts_block(block.nodes(), where, description)
        for attr in node.attributeNames():
            if node.kindOf(attr) == "g":
                _walk_ts_block(node.g(attr).nodes(), where, description)


def _custom_class(t) -> str | None:
    text = str(t)
    for m in re.finditer(r"__torch__\.torch\.classes\.[\w.]+", text):
        if not m.group(0).startswith("__torch__.torch.classes.quantized."):
            return m.group(0)
    return None


def check_torchscript_archive(path: str, trust: bool = False) -> None:
    """A static look at a TorchScript archive's ``code/`` before ``torch.jit.load`` (which runs
    ``__setstate__``): each ``.py`` member must parse, and name no denied op (``torch.from_file``,
    ``ops.aten.save`` ...), no op of another namespace (``ops.mylib.f``) and no custom class
    outside ``torch.classes.quantized``."""
    with _open_zip(path) as z:
        infos = z.infolist()
        _check_member_names(path, infos)
        if trust:
            return
        for info in infos:
            parts = info.filename.split("/")
            if "code" not in parts[:-1] or not info.filename.endswith(".py"):
                continue
            text = z.read(info).decode("utf-8", "replace")
            try:
                tree = ast.parse(text)
            except SyntaxError:
                _refuse(f"{path}: {info.filename}", "TorchScript code that cannot be checked (not Python syntax)")
            for node in ast.walk(tree):
                if not isinstance(node, ast.Attribute):
                    continue
                dotted = _dotted(node)
                if dotted is None:
                    continue
                problem = _ts_reference_problem(dotted)
                if problem:
                    _refuse(f"{path}: {info.filename}", problem, op=dotted, hint=_TRUST_HINT)


def _dotted(node) -> str | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    names.append(node.id)
    return ".".join(reversed(names))


def _ts_reference_problem(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[0] == "torch" and len(parts) == 2:
        if f"aten::{parts[1]}" in denied_ops():
            return f"code calls torch.{parts[1]} (op aten::{parts[1]} reaches outside the conversion)"
        return None
    if parts[0] == "ops" and len(parts) >= 3:
        problem = qualified_op_problem(f"{parts[1]}::{parts[2]}")
        if parts[1] == "prim" and f"prim::{parts[2]}" not in denied_ops():
            return None
        if problem:
            return f"code calls ops.{parts[1]}.{parts[2]}: {problem}"
        return None
    if dotted.startswith("__torch__.torch.classes.") and len(parts) >= 5 and parts[3] != "quantized":
        return f"code uses the TorchScript class {'.'.join(parts[:5])} (native code)"
    return None


# ============================================================================ .pt2 archives
@contextlib.contextmanager
def _open_zip(path: str):
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: not a readable archive: {e}") from None
    with z:
        yield z


def _check_member_names(path: str, infos) -> None:
    for info in infos:
        name = info.filename
        if name.startswith("/") or "\\" in name or ".." in name.split("/") or re.match(r"^[A-Za-z]:", name):
            _refuse(f"{path}: {name}", "an archive member with an absolute or '..' name")
        if name.lower().endswith(_LIB_SUFFIXES):
            _refuse(f"{path}: {name}", "an archive member that is a shared library (loading it runs native code)")


def _root_and_relative(names: list[str]) -> tuple[str, dict[str, str]]:
    """torch.export.save writes ``<root>/<member>``; the old format has no root."""
    roots = {n.split("/", 1)[0] for n in names if "/" in n}
    if len(roots) == 1 and all("/" in n for n in names):
        root = roots.pop()
        return root, {n.split("/", 1)[1]: n for n in names}
    return "", {n: n for n in names}


def check_pt2_archive(path: str, trust: bool = False) -> None:
    """The static rules for a ``.pt2`` archive (module docstring); raises UnsafeSourceError."""
    from torch.export.pt2_archive import constants as C

    with _open_zip(path) as z:
        infos = z.infolist()
        _check_member_names(path, infos)
        names = [i.filename for i in infos if not i.is_dir()]
        _, rel = _root_and_relative(names)
        for r, full in rel.items():
            if r.startswith(C.AOTINDUCTOR_DIR) or "/aotinductor/" in f"/{r}":
                _refuse(f"{path}: {full}", "an AOTInductor member (loading it runs compiled native code)")
        raw_payloads: set[str] = set()  # members torch reads as raw tensor bytes
        pickles: dict[str, str] = {}  # relative member -> why torch unpickles it
        for r in rel:
            if r.startswith(C.SAMPLE_INPUTS_DIR):
                pickles[r] = "sample inputs"
            elif r.startswith(C.MODELS_DIR) and r.endswith(".json"):
                model = r[len(C.MODELS_DIR):-len(".json")]
                for legacy in (f"{C.WEIGHTS_DIR}{model}.pt", f"{C.CONSTANTS_DIR}{model}.pt"):
                    if legacy in rel:
                        pickles[legacy] = "legacy weights" if "weights" in legacy else "legacy constants"
                for fmt, folder in ((C.WEIGHTS_CONFIG_FILENAME_FORMAT, C.WEIGHTS_DIR),
                                    (C.CONSTANTS_CONFIG_FILENAME_FORMAT, C.CONSTANTS_DIR)):
                    cfg = fmt.format(model)
                    if cfg in rel:
                        _scan_payload_config(path, z, rel, cfg, folder, pickles, raw_payloads, C)
            elif r in _OLD_FORMAT_PICKLES:
                pickles[r] = "serialized state"
            elif r.startswith(C.CONSTANTS_DIR) and posixpath.basename(r).startswith(
                    (C.CUSTOM_OBJ_FILENAME_PREFIX, C.OPAQUE_OBJ_FILENAME_PREFIX)):
                _refuse(f"{path}: {rel[r]}", "a constant that is a pickled Python or TorchScript object")
        # anything else that is a pickle, or a torch.save zip, is checked as well
        for r, full in rel.items():
            if r in pickles or r in raw_payloads or r.endswith(".json"):
                continue
            with z.open(full) as f:
                head = f.read(4)
            if head[:1] == b"\x80" or (head == b"PK\x03\x04" and _zip_holds_pickle(z.read(full))):
                pickles[r] = "a pickle"
        for r, why in sorted(pickles.items()):
            _verify_pickle(f"{path}: {rel[r]}", z.read(rel[r]), why)
        for r, full in rel.items():
            if (r.startswith(C.MODELS_DIR) and r.endswith(".json")) or r == "serialized_exported_program.json":
                try:
                    doc = json.loads(z.read(full))
                except (ValueError, UnicodeDecodeError) as e:
                    raise ModelLoadError(f"{path}: {full}: not JSON: {e}") from None
                _check_program_json(f"{path}: {full}", doc, trust)


def _scan_payload_config(path, z, rel, cfg, folder, pickles, raw_payloads, C) -> None:
    try:
        config = json.loads(z.read(rel[cfg])).get("config", {})
    except (ValueError, UnicodeDecodeError, AttributeError) as e:
        raise ModelLoadError(f"{path}: {rel[cfg]}: not a payload config: {e}") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path}: {rel[cfg]}: not a payload config")
    for fqn, meta in config.items():
        if not isinstance(meta, dict) or not isinstance(meta.get("path_name"), str):
            raise ModelLoadError(f"{path}: {rel[cfg]}: entry '{fqn}' has no path_name")
        name = meta["path_name"]
        member = posixpath.join(folder, name)
        if "/" in name or name in ("", ".", ".."):
            _refuse(f"{path}: {rel[cfg]}", f"entry '{fqn}' names the member '{name}' outside its folder")
        if folder == C.CONSTANTS_DIR and name.startswith((C.CUSTOM_OBJ_FILENAME_PREFIX, C.OPAQUE_OBJ_FILENAME_PREFIX)):
            _refuse(f"{path}: {rel.get(member, member)}", f"constant '{fqn}' is a pickled Python or TorchScript object")
        if meta.get("use_pickle"):
            pickles[member] = f"'{fqn}' (use_pickle)"
        else:
            raw_payloads.add(member)


def _zip_holds_pickle(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            return any(n.endswith("data.pkl") for n in inner.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False


def _verify_pickle(where: str, data: bytes, why: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - the restricted unpickler refused it, or it is not a pickle
        named = _named_globals(data)
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        callable_name = ", ".join(dict.fromkeys(named[:3])) if named else found.group(1) if found else None
        what = f"{why} holds a pickle that names a Python callable ({callable_name})" if callable_name else \
            f"{why} holds a pickle torch's restricted unpickler refuses"
        _refuse(where, what, op=callable_name)


_HARMLESS_GLOBAL = re.compile(r"^(torch(\.|$)|collections\.OrderedDict$|builtins\.(set|frozenset|slice|complex)$|"
                              r"_codecs\.encode$|numpy\.core\.multiarray\._reconstruct$)")


def _named_globals(data: bytes) -> list[str]:
    """The globals a pickle (or a torch.save zip's data.pkl) names, without unpickling it;
    the ones torch's own tensors use are left out."""
    blob = data
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                pkl = [n for n in inner.namelist() if n.endswith("data.pkl")]
                blob = inner.read(pkl[0]) if pkl else b""
        except (zipfile.BadZipFile, ValueError):
            return []
    out: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(blob)):
            if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif opcode.name in ("GLOBAL", "INST"):
                out.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                out.append(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # noqa: BLE001 - a truncated or odd pickle: what was found so far
        pass
    out = [g.replace("posix.", "os.").replace("nt.", "os.") if g.split(".")[0] in ("posix", "nt") else g for g in out]
    return [g for g in out if not _HARMLESS_GLOBAL.match(g)]


def _check_program_json(where: str, doc, trust: bool = False) -> None:
    """Every node target / operator argument, every sym expression, every guard."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key == "target" and ("inputs" in item or "outputs" in item):
                problem = _target_string_problem(value, trust)
                if problem:  # trust helps an op of another namespace, never a Python name
                    hint = _TRUST_HINT if isinstance(value, str) and value.startswith("torch.ops.") else None
                    _refuse(where, problem, op=str(value)[:200], hint=hint)
            elif key == "as_operator" and isinstance(value, str):
                problem = _target_string_problem(value, trust)
                if problem:
                    _refuse(where, problem, op=value[:200])
            elif key == "expr_str":
                check_sym_expr(where, value)
            elif key == "guards_code" and value:
                for code in value if isinstance(value, list) else [value]:
                    check_guard(where, code)
            elif isinstance(value, (dict, list)):
                stack.append(value)


def _parse_eval(where: str, text, what: str):
    if not isinstance(text, str) or len(text) > 20000:
        _refuse(where, f"a {what} that is not a short string")
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        _refuse(where, f"a {what} that is not an expression: {text[:80]!r}")


_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd, ast.Not,
          ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.BitAnd, ast.BitOr,
          ast.LShift, ast.RShift, ast.Invert, ast.BitXor)
_STRUCTURE = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Load, ast.Tuple, ast.keyword)


def check_sym_expr(where: str, text) -> None:
    """A shape expression sympy will ``eval``: numbers, symbols, arithmetic, comparisons and
    calls of :data:`SYMPY_FUNCTIONS`; a string only as a symbol's name."""
    tree = _parse_eval(where, text, "shape expression")
    for node in ast.walk(tree):
        if isinstance(node, _STRUCTURE + _ARITH):
            continue
        if isinstance(node, ast.Constant) and (isinstance(node.value, (int, float, bool)) or node.value is None):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SAFE_NAME.match(node.value) \
                and "__" not in node.value:
            continue  # Symbol('s77', ...)
        if isinstance(node, ast.Name) and _SAFE_NAME.match(node.id) and "__" not in node.id and \
                (node.id in SYMPY_FUNCTIONS or not _is_builtin(node.id)):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SYMPY_FUNCTIONS:
            continue
        _refuse(where, f"a shape expression that is not plain arithmetic ({type(node).__name__}): {text[:120]!r}",
                op=text[:200])


def _is_builtin(name: str) -> bool:
    import builtins

    return hasattr(builtins, name)


def check_guard(where: str, text) -> None:
    """A guard torch will ``exec`` when the program's module is made: ``L['x'].size()[0] == 3``
    and the like (input size queries, numbers, arithmetic, comparisons, sympy functions)."""
    tree = _parse_eval(where, text, "guard")
    for node in ast.walk(tree):
        if isinstance(node, _STRUCTURE + _ARITH + (ast.Subscript, ast.Slice)):
            continue
        if isinstance(node, ast.Constant) and (isinstance(node.value, (int, float, bool)) or node.value is None):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SAFE_NAME.match(node.value) \
                and "__" not in node.value:
            continue  # L['x']: a key without quotes or escapes
        if isinstance(node, ast.Name) and (node.id == "L" or node.id in SYMPY_FUNCTIONS):
            continue
        if isinstance(node, ast.Attribute) and node.attr in _GUARD_METHODS:
            continue
        if isinstance(node, ast.Call) and (
                (isinstance(node.func, ast.Name) and node.func.id in SYMPY_FUNCTIONS) or
                (isinstance(node.func, ast.Attribute) and node.func.attr in _GUARD_METHODS)):
            continue
        _refuse(where, f"guard code that is not a size check ({type(node).__name__}): {text[:120]!r}", op=text[:200])


class _Tripped(Exception):
    pass


@contextlib.contextmanager
def _guarded():
    """torch's pt2 loader with its code-running paths shut, for this call only."""
    from torch.export.pt2_archive import _package

    state = {"tripped": None}
    real_load = torch.load
    real_pickle_obj = torch._C._pickle_load_obj
    real_pickle = _package.pickle
    real_aoti = _package._load_aoti

    def load(f, *args, **kwargs):
        kwargs["weights_only"] = True
        kwargs.pop("pickle_module", None)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return real_load(f, *args, **kwargs)
        except Exception as e:  # noqa: BLE001
            if isinstance(e, __import__("pickle").UnpicklingError):
                state["tripped"] = "a pickle torch's restricted unpickler refuses"
            raise

    def refuse(what):
        def f(*_a, **_k):
            state["tripped"] = what
            raise _Tripped(what)
        return f

    class _NoPickle:
        loads = staticmethod(refuse("a pickled Python object"))
        load = loads

        def __getattr__(self, name):
            return getattr(real_pickle, name)

    torch.load = load
    torch._C._pickle_load_obj = refuse("a pickled TorchScript object")
    _package.pickle = _NoPickle()
    _package._load_aoti = refuse("an AOTInductor library")
    try:
        yield state
    finally:
        torch.load = real_load
        torch._C._pickle_load_obj = real_pickle_obj
        _package.pickle = real_pickle
        _package._load_aoti = real_aoti


def load_pt2(path: str, *, trust: bool = False):
    """``torch.export.load(path)`` after the archive passed the checks, run under the guard;
    the program's ops are checked (:func:`check_program`) unless ``trust``."""
    import logging

    check_pt2_archive(path, trust)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # torch logs a traceback when its first format fails
    try:
        with _guarded() as state:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    program = torch.export.load(path)
            except Exception as e:  # noqa: BLE001 - torch raises many types for a bad archive
                if state["tripped"]:
                    _refuse(path, f"the archive holds {state['tripped']}")
                text = (str(e).strip() or type(e).__name__).splitlines()[0][:300]
                raise ModelLoadError(f"{path}: cannot read this torch.export archive: {text}") from None
            if state["tripped"]:
                _refuse(path, f"the archive holds {state['tripped']}")
    finally:
        logging.disable(previous)
    check_program(program, path, trust=trust)
    return program

"""What a TensorFlow / Keras source may run while mmconvert reads, traces and checks it.

In the IR because two sides apply it: the TensorFlow frontend (to the sources it reads) and
the SavedModel runner of ``validators/runners`` (to a candidate it loads); neither imports
the other.

TensorFlow runs a model's ops in three places during a conversion: ``tf.saved_model.load``
(a tracked resource's ``_create_resource`` / ``_initialize`` functions: a lookup table
filled from a file), grappler's constant folding inside tf2onnx's freezing (stateless ops
such as ``ReadFile`` on constant inputs) and the parity reference, which calls the source
itself.  tf2onnx drops every op no output depends on, so a ``tf.io.write_file`` beside an
ordinary ``x * 2`` would convert, pass parity and write its file once per conversion.

The rules (one for every TensorFlow graph mmconvert opens):

1. **Denied** (:data:`DENIED` by name, :data:`_DENIED_PATTERNS` by family, and every op
   whose ``OpDef`` has an argument naming a file: ``filename``, ``file_pattern``,
   ``prefix``, ``memory_region_name`` ...): ops with effects outside the model, grouped by
   category for the message: *file system* (``WriteFile``, ``ReadFile``, ``MatchingFiles``,
   checkpoints ``SaveV2``/``RestoreV2``/..., ``ImmutableConst``, readers, tables from text
   files), *printing / logging* (``PrintV2`` to a file, summaries, debug ops), *tf.data /
   input pipelines* (every ``*Dataset*``, iterators, queues), *Python code* (``PyFunc``,
   ``EagerPyFunc``) and *network / devices / other processes* (send/receive, collectives,
   NCCL, RPC, TPU infeed/outfeed).  Each path TensorFlow's file system layer opens may be a
   ``gs://``, ``s3://`` or ``http`` URL, so none is trusted.
2. **Allowed** (:func:`allowed_ops`): the op types tf2onnx converts (its handler registry,
   ``tf2onnx.handler.tf_op``, after importing its ``onnx_opset`` handlers) and graph
   plumbing and model state (placeholders, calls,
   control flow, variables and their updates, in-memory tables, tensor lists and arrays,
   random numbers, asserts), minus the denied ops.
3. Any other op is allowed when TensorFlow registers it as stateless (``OpDef.is_stateful``
   false: it computes from its inputs only, so it cannot reach outside the model; tf2onnx
   then lists it as unsupported, exit 3) and refused when it is stateful (*unknown
   effects*).  A node whose op is a function of the graph's library is a call: that function
   is checked itself.

A refused op raises :class:`ir.errors.UnsafeSourceError` (exit 2) before any of the
source's ops ran, naming the op, its category and the function holding it;
``trust_source_ops=True`` (``--trust-source-ops``) runs it anyway.

Where the rules are applied: :func:`check_saved_model_file` reads ``saved_model.pb``
without executing it, before ``tf.saved_model.load``, skipping the functions only the
saver's save / restore nodes reach (``__inference__traced_save_*``/``_traced_restore_*``,
which every SavedModel carries and which loading never runs: the loader restores the
variables itself); :func:`check_function` checks the traced concrete function and its
whole function library (nested If/While/call bodies) right after tracing, before the
translation's constant folding.  :func:`check_keras_file` checks a ``.keras`` zip or a
legacy ``.h5`` before Keras reads it: no member outside the archive, no zip bomb, and a
config naming only Keras' own objects (or objects this process has registered itself).

:func:`dropped_ops` lists the stateful ops of a function no output depends on (by data
edges; automatic control dependencies do not count): the converted artifact lacks them.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from functools import lru_cache

from mmconvert.ir.errors import ModelLoadError, UnsafeSourceError

FILE_SYSTEM = "file system"
LOGGING = "printing / logging"
DATA = "tf.data / input pipeline"
PYTHON = "Python code"
NETWORK = "network / devices / other processes"
UNKNOWN = "unknown effects"

DENIED: dict[str, str] = {
    **{op: FILE_SYSTEM for op in (
        "WriteFile", "ReadFile", "MatchingFiles", "SaveV2", "RestoreV2", "Save", "Restore", "SaveSlices",
        "RestoreSlice", "MergeV2Checkpoints", "ImmutableConst", "ShardedFilename", "ShardedFilespec",
        "DeleteFile", "LoadAndRemapMatrix", "GenerateVocabRemapping", "InitializeTableFromTextFile",
        "InitializeTableFromTextFileV2", "FixedUnigramCandidateSampler", "Skipgram", "RecordInput",
        "DTensorRestoreV2", "CalibrationStatisticsSaver", "DecodeProtoV2", "EncodeProto",
        "ReadFileAsync", "WholeFileReader", "WholeFileReaderV2")},
    **{op: LOGGING for op in (
        "PrintV2", "Print", "DumpTensor", "WriteSummary", "WriteRawProtoSummary", "WriteScalarSummary",
        "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
        "CreateSummaryFileWriter", "CreateSummaryDbWriter", "FlushSummaryWriter", "CloseSummaryWriter",
        "SummaryWriter", "ImportEvent")},
    **{op: PYTHON for op in ("PyFunc", "PyFuncStateless", "EagerPyFunc")},
    **{op: NETWORK for op in ("RemoteCall", "_Send", "_Recv", "_HostSend", "_HostRecv", "Send", "Recv")},
}
_DENIED_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"Dataset|Iterator|Queue"), DATA),
    (re.compile(r"Reader"), FILE_SYSTEM),  # TFRecordReaderV2, ReaderReadV2 ...
    (re.compile(r"Summary(Writer)?$|^Debug"), LOGGING),
    (re.compile(r"^(_?Collective|Nccl|Rpc|_?Xla(Send|Recv)|_?(Infeed|Outfeed))|TPU|Send$|Recv$"), NETWORK),
)
# an argument with one of these names is a path (or a stream) TensorFlow opens
_PATH_ARGS = frozenset({
    "filename", "filenames", "file_pattern", "prefix", "basename", "logdir", "log_dir_path", "file_name",
    "output_file_path", "ckpt_path", "vocab_file", "new_vocab_file", "old_vocab_file", "memory_region_name",
    "directory", "snapshot_path", "shard_dir", "chunk_file", "path", "reader_path_prefix", "writer_path_prefix",
    "output_stream", "descriptor_source"})

# graph plumbing and the model's own state: effects that stay inside the model
_PLUMBING = frozenset({
    "Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "Const", "ConstV2", "HostConst", "Identity", "IdentityN",
    "NoOp", "ControlTrigger", "PartitionedCall", "StatefulPartitionedCall", "If", "StatelessIf", "_If", "While",
    "StatelessWhile", "_While", "Case", "StatelessCase", "For", "Enter", "Exit", "Merge", "Switch", "NextIteration",
    "LoopCond", "RefEnter", "RefExit", "RefMerge", "RefSwitch", "RefNextIteration", "RefIdentity", "_Arg", "_Retval",
    "_DeviceArg", "_DeviceRetval", "Assert", "StopGradient", "PreventGradient", "Snapshot", "EnsureShape",
    "CheckNumerics", "CheckNumericsV2", "OptionalFromValue", "OptionalGetValue", "OptionalHasValue", "OptionalNone",
    "ReadVariableOp", "VarHandleOp", "_VarHandlesOp", "VarIsInitializedOp", "AssignVariableOp",
    "AssignAddVariableOp", "AssignSubVariableOp", "DestroyResourceOp", "DisableCopyOnRead", "VariableShape",
    "ResourceGather", "ResourceGatherNd", "ResourceStridedSliceAssign", "Variable", "VariableV2",
    "TemporaryVariable", "DestroyTemporaryVariable", "IsVariableInitialized", "Assign", "AssignAdd", "AssignSub",
    "ScatterUpdate", "ScatterAdd", "ScatterSub", "ScatterMul", "ScatterDiv", "ScatterMin", "ScatterMax",
    "ScatterNdUpdate", "ScatterNdAdd", "ScatterNdSub", "HashTable", "HashTableV2", "MutableHashTable",
    "MutableHashTableV2", "MutableHashTableOfTensors", "MutableHashTableOfTensorsV2", "MutableDenseHashTable",
    "MutableDenseHashTableV2", "AnonymousHashTable", "AnonymousMutableHashTable",
    "AnonymousMutableHashTableOfTensors", "AnonymousMutableDenseHashTable", "InitializeTable", "InitializeTableV2",
    "LookupTableFind", "LookupTableFindV2", "LookupTableSize", "LookupTableSizeV2", "LookupTableInsert",
    "LookupTableInsertV2", "LookupTableRemoveV2", "LookupTableExport", "LookupTableExportV2", "LookupTableImport",
    "LookupTableImportV2", "StackV2", "StackPushV2", "StackPopV2", "StackCloseV2", "Multinomial", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "NonDeterministicInts", "RngSkip", "RngReadAndSkip", "Timestamp"})
_PLUMBING_PATTERNS = re.compile(r"^(Random|Stateful(Uniform|StandardNormal|TruncatedNormal|RandomBinomial)|"
                                r"TensorList|TensorArray|ResourceApply|ResourceSparseApply|ResourceScatter)")
# stateful ops whose loss the artifact does not notice: not reported as dropped
_QUIET = frozenset({"ReadVariableOp", "VarHandleOp", "_VarHandlesOp", "VarIsInitializedOp", "DestroyResourceOp",
                    "DisableCopyOnRead", "VariableShape", "Placeholder", "NoOp", "Assert", "PartitionedCall",
                    "StatefulPartitionedCall", "If", "While", "Case", "HashTableV2", "MutableHashTableV2",
                    "MutableDenseHashTableV2", "MutableHashTableOfTensorsV2", "Timestamp"})
_SHOWN = 3  # offenders named in the message


# --------------------------------------------------------------------------- the rule
def _op_def(op: str):
    try:
        from tensorflow.python.framework import op_def_registry

        return op_def_registry.get(op)
    except Exception:  # noqa: BLE001 - an op this TensorFlow does not register
        return None


@lru_cache(maxsize=None)
def denied_category(op: str) -> str | None:
    """The category of a denied op, else None."""
    if op in DENIED:
        return DENIED[op]
    for pattern, category in _DENIED_PATTERNS:
        if pattern.search(op):
            return category
    op_def = _op_def(op)
    if op_def is not None:
        args = {a.name for a in op_def.input_arg} | {a.name for a in op_def.attr}
        if args & _PATH_ARGS:
            return FILE_SYSTEM
    return None


@lru_cache(maxsize=1)
def allowed_ops() -> frozenset[str]:
    """tf2onnx's convertible op types + plumbing and model state, minus
    the denied ops (:data:`_PLUMBING_PATTERNS` families are allowed on top of these)."""
    ops = set(_PLUMBING)
    try:
        import tf2onnx.custom_opsets  # noqa: F401 - registers the handlers
        import tf2onnx.onnx_opset  # noqa: F401
        from tf2onnx import handler

        for opsets in handler.tf_op.get_opsets().values():
            for mapping in opsets:
                ops.update(mapping)
    except Exception:  # noqa: BLE001 - without tf2onnx, plumbing only (stateless ops stay allowed)
        pass
    return frozenset(op for op in ops if denied_category(op) is None)


def refusal(op: str) -> str | None:
    """Why ``op`` may not run (its category), or None when it may."""
    category = denied_category(op)
    if category is not None:
        return category
    if op in allowed_ops() or _PLUMBING_PATTERNS.match(op):
        return None
    op_def = _op_def(op)
    if op_def is not None and op_def.is_stateful:
        return UNKNOWN
    return None


def _is_stateful(op: str) -> bool:
    op_def = _op_def(op)
    return bool(op_def is not None and op_def.is_stateful)


# --------------------------------------------------------------------------- graphs
def _callees(node, functions) -> list[str]:
    out = [node.op] if node.op in functions else []
    for value in node.attr.values():
        if value.HasField("func") and value.func.name:
            out.append(value.func.name)
        elif value.HasField("list"):
            out.extend(f.name for f in value.list.func if f.name)
    return out


def _offenders(nodes, fn_name: str, functions) -> list[dict]:
    out = []
    for node in nodes:
        if node.op in functions:
            continue
        category = refusal(node.op)
        if category is not None:
            out.append({"op": node.op, "category": category, "function": fn_name, "node": node.name})
    return out


def _raise_or_return(offenders: list[dict], description: str, trust: bool) -> list[dict]:
    if not offenders or trust:
        return offenders
    first = offenders[0]
    effects = ("an op with effects outside the model" if first["category"] != UNKNOWN else
               "a stateful op not known to be free of effects outside the model")
    message = f"{description}: function {first['function']} calls {first['op']} ({first['category']}), {effects}"
    others = []
    for o in offenders[1:]:
        item = f"{o['op']} in {o['function']}"
        if item not in others and f"{first['op']} in {first['function']}" != item:
            others.append(item)
    if others:
        shown = ", ".join(others[:_SHOWN]) + (", ..." if len(others) > _SHOWN else "")
        message += f"; also {shown}"
    raise UnsafeSourceError(f"{message}: not run", op=first["op"], where=first["function"],
                            hint="pass --trust-source-ops (trust_source_ops=True) to run it")


def _function_name(cf) -> str:
    name = getattr(cf, "name", None) or getattr(cf.graph, "name", "?")
    return name.decode() if isinstance(name, bytes) else str(name)


def check_function(cf, description: str, trust: bool = False) -> list[dict]:
    """Every node of ``cf``'s graph and of every function in its library: a refused op raises
    UnsafeSourceError naming it (the first few of all of them); with ``trust`` they are
    returned instead ([{"op", "category", "function", "node"}])."""
    graph_def = cf.graph.as_graph_def()
    functions = {f.signature.name for f in graph_def.library.function}
    offenders = _offenders(graph_def.node, _function_name(cf), functions)
    for f in graph_def.library.function:
        offenders += _offenders(f.node_def, f.signature.name, functions)
    return _raise_or_return(offenders, description, trust)


def check_saved_model_file(path: str, trust: bool = False) -> list[dict]:
    """``<path>/saved_model.pb``, parsed (nothing runs): every node of each meta graph and each
    function of its library, except the saver's nodes and the functions only they reach."""
    from tensorflow.core.protobuf import saved_model_pb2

    pb = os.path.join(path, "saved_model.pb")
    saved = saved_model_pb2.SavedModel()
    try:
        with open(pb, "rb") as f:
            saved.ParseFromString(f.read())
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError, OSError
        raise ModelLoadError(f"{path}: saved_model.pb is not a SavedModel: {type(e).__name__}: {e}") from None
    offenders: list[dict] = []
    for meta in saved.meta_graphs:
        graph_def = meta.graph_def
        library = {f.signature.name: f for f in graph_def.library.function}
        saver = {t.split(":")[0].lstrip("^") for t in (meta.saver_def.save_tensor_name,
                                                       meta.saver_def.restore_op_name) if t}
        saver_nodes = [n for n in graph_def.node if n.name in saver]
        saver_reach = _reach([c for n in saver_nodes for c in _callees(n, library)], library)
        roots = [c for n in graph_def.node if n.name not in saver for c in _callees(n, library)]
        roots += [name for name in library if name not in saver_reach]
        checked = _reach(roots, library)
        offenders += _offenders([n for n in graph_def.node if n.name not in saver], "(the SavedModel's graph)",
                                library)
        for name in sorted(checked):
            offenders += _offenders(library[name].node_def, name, library)
    return _raise_or_return(offenders, path, trust)


def _closure(roots, successors) -> set[str]:
    """Every name reachable from ``roots`` (``successors(name)``: the names it leads to)."""
    seen, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(s for s in successors(name) if s not in seen)
    return seen


def _reach(roots, library) -> set[str]:
    """The library functions ``roots`` call, themselves included, transitively."""
    return _closure([r for r in roots if r in library],
                    lambda name: [c for node in library[name].node_def for c in _callees(node, library) if c in library])


# --------------------------------------------------------------------------- dropped ops
def _producer(ref: str) -> str | None:
    if ref.startswith("^"):
        return None  # a control edge: not data
    return ref.split(":")[0]


def _live(nodes, outputs) -> set[str]:
    """Names of the nodes an output depends on through data edges."""
    by_name = {n.name: n for n in nodes}
    return _closure([p for p in (_producer(o) for o in outputs) if p in by_name],
                    lambda name: [p for p in map(_producer, by_name[name].input) if p in by_name])


def dropped_ops(cf) -> list[dict]:
    """The stateful ops of ``cf`` (and of the functions it calls) no output depends on:
    [{"op", "function", "node"}], in graph order."""
    graph_def = cf.graph.as_graph_def()
    library = {f.signature.name: f for f in graph_def.library.function}
    outputs = [t.name for t in cf.outputs]
    root = _function_name(cf)
    bodies = {root: (list(graph_def.node), _live(graph_def.node, outputs))}
    live_fns, dead_fns, queue = {root}, set(), [(root, True)]
    while queue:
        name, live = queue.pop()
        if name not in bodies:
            f = library[name]
            bodies[name] = (list(f.node_def), _live(f.node_def, list(f.ret.values())))
        nodes, alive = bodies[name]
        for node in nodes:
            for callee in _callees(node, library):
                callee_live = live and node.name in alive
                if callee_live and callee not in live_fns:
                    live_fns.add(callee)
                    dead_fns.discard(callee)
                    queue.append((callee, True))
                elif not callee_live and callee not in live_fns and callee not in dead_fns:
                    dead_fns.add(callee)
                    queue.append((callee, False))
    out = []
    for name in [root] + [n for n in library if n in live_fns or n in dead_fns]:
        if name not in bodies:
            continue
        nodes, alive = bodies[name]
        for node in nodes:
            if node.op in library or node.op in _QUIET or not _is_stateful(node.op):
                continue
            if name in dead_fns or node.name not in alive:
                out.append({"op": node.op, "function": name, "node": node.name})
    return out


# --------------------------------------------------------------------------- Keras files
ZIP_BOMB_SIZE = 1 << 30  # a member declaring more than 1 GiB ...
ZIP_BOMB_RATIO = 100  # ... at more than 100 times its compressed size is refused
_KERAS_HINT = ("load the model yourself (keras.saving.load_model with its custom_objects, if you trust it) and"
               " convert the keras.Model")
_BUILTIN_MODULES = ("activations", "constraints", "initializers", "losses", "metrics", "regularizers", "optimizers")


def check_keras_file(path: str) -> None:
    """A ``.keras`` zip or a legacy ``.h5``, before Keras reads it (see the module docstring)."""
    if zipfile.is_zipfile(path):
        _check_keras_zip(path)
    else:
        _check_h5(path)


def _check_keras_zip(path: str) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            for info in infos:
                name = info.filename
                parts = re.split(r"[\\/]", name)
                if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                    raise UnsafeSourceError(f"{path}: archive member {name!r} points outside the archive: not read",
                                            op=name, where=path, hint=_KERAS_HINT)
                if info.file_size > ZIP_BOMB_SIZE and info.file_size > ZIP_BOMB_RATIO * max(info.compress_size, 1):
                    raise UnsafeSourceError(
                        f"{path}: archive member {name!r} declares {info.file_size} bytes from "
                        f"{info.compress_size} compressed (a zip bomb: over {ZIP_BOMB_SIZE >> 30} GiB at more than"
                        f" {ZIP_BOMB_RATIO}x): not read", op=name, where=path, hint=_KERAS_HINT)
            names = {i.filename for i in infos}
            if "config.json" not in names:
                return  # Keras says what is missing
            config_info = z.getinfo("config.json")
            if config_info.file_size > 256 << 20:
                raise UnsafeSourceError(f"{path}: config.json declares {config_info.file_size} bytes: not read",
                                        op="config.json", where=path, hint=_KERAS_HINT)
            text = z.read("config.json")
    except zipfile.BadZipFile as e:
        raise ModelLoadError(f"{path}: not a readable .keras archive: {e}") from None
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ModelLoadError(f"{path}: config.json is not JSON: {e}") from None
    _check_config(config, path)


def _check_h5(path: str) -> None:
    try:
        import h5py
    except ModuleNotFoundError:
        return
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except Exception:  # noqa: BLE001 - not an HDF5 Keras can read either: Keras says so
        return
    if raw is None:
        return
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        config = json.loads(str(raw))
    except ValueError:
        return
    _check_config(config, path)


def _keras_module(module: str) -> bool:
    return module == "keras" or module.startswith("keras.")


def _registered(name) -> bool:
    """An object this process registered itself (``@keras.saving.register_keras_serializable``):
    code the user already runs, which Keras takes without importing anything."""
    if not isinstance(name, str) or not name:
        return False
    try:
        import keras

        return keras.saving.get_registered_object(name) is not None
    except Exception:  # noqa: BLE001
        return False


def _keras_builtin(name) -> bool:
    if not isinstance(name, str):
        return False
    import keras

    return any(hasattr(getattr(keras, m, None), name) for m in _BUILTIN_MODULES)


def _check_config(config, path: str) -> None:
    stack = [config]
    while stack:
        obj = stack.pop()
        if isinstance(obj, list):
            stack.extend(obj)
            continue
        if not isinstance(obj, dict):
            continue
        stack.extend(obj.values())
        cls = obj.get("class_name")
        inner = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        if cls == "__lambda__" or (cls == "Lambda" and (inner.get("function_type") == "lambda" or
                                                         isinstance(inner.get("function"), (list, str)))):
            raise UnsafeSourceError(f"{path}: a Lambda layer carries Python bytecode: not loaded", op="Lambda",
                                    where=path, hint=_KERAS_HINT)
        module = obj.get("module")
        if module is None or not isinstance(cls, str):
            continue
        if not isinstance(module, str):
            raise UnsafeSourceError(f"{path}: an object has module {module!r}: not loaded", op=repr(cls),
                                    where=path, hint=_KERAS_HINT)
        registered = obj.get("registered_name")
        if _keras_module(module):
            if isinstance(registered, str) and ">" in registered and not _registered(registered):
                _refuse_object(path, module, cls, registered)
            continue
        if module == "builtins" and cls == "function" and _keras_builtin(obj.get("config")) and \
                registered in (None, "function", obj.get("config")):
            continue  # a Keras built-in function saved by name ('relu')
        if _registered(registered) or (cls == "function" and _registered(obj.get("config"))):
            continue
        _refuse_object(path, module, cls, registered)


def _refuse_object(path, module, cls, registered):
    what = f"{module}.{cls}" + (f" (registered as {registered!r})" if registered else "")
    raise UnsafeSourceError(f"{path}: the config names {what!r}, which is not a Keras object: not loaded",
                            op=f"{module}.{cls}", where=path, hint=_KERAS_HINT)

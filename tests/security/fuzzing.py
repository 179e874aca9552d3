"""The fuzz harness: valid models, mutated, fed to load / inspect / convert.

A case is a seed model (an ONNX conformance node case, the bundled example, or a light
zoo model) with one to three mutations: bytes, protobuf fields, names (quotes, newlines,
keywords, unicode, code), dims, attributes, opsets, structure and external-data entries
pointing out of the model's folder.  Each case runs one action; anything but a typed
error (``MMConvertError``) or a correct artifact is a finding, and so is a generated file
that runs code or holds bytes read from outside the model's folder.

Used by ``tests/security/test_fuzz.py`` (hypothesis drives the choices; 1,000 inputs in
CI) and ``benchmarks/fuzz.py`` (long mode: counts outcomes over many more inputs).
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import random
import shutil
import signal
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

import conformance as C

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")
SECRET = b"MMCONVERT-FUZZ-SECRET-" + bytes(range(40, 90))  # bytes that live outside every model folder
_COUNTER = itertools.count()


def payloads(canary: str) -> list[str]:
    code = f"__import__('pathlib').Path({canary!r}).touch()"
    return [
        f'"""\n{code}\n"""', f"'''\n{code}\n'''", f"x\n{code}\n#", f"\\\n{code}", f"');{code};('", f'");{code};("',
        f"{{{code}}}", f"\u2028{code}", "class", "None", "lambda", "self", "torch", "zip", "__init__", "forward",
        "named_children", "ﬁ", "fi", "x²", "a.b", "a_b", "", " ", "0", "1x", "é" * 3, "名前", "../../etc/passwd",
        "/etc/passwd", "[red]markup[/red]", "%s%n{0}", "\x00nul", "a" * 300, "emoji😀",
    ]


@dataclass
class Case:
    seed_name: str
    mutations: list[str]
    action: str


@dataclass
class Outcome:
    kind: str  # artifact | typed | untyped | hang | code_exec | outside_read | bad_artifact
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.kind in ("artifact", "typed")


# ----------------------------------------------------------------------- seeds
def seeds() -> list[tuple[str, onnx.ModelProto]]:
    out = [("tiny_cnn", onnx.load(EXAMPLE))]
    for path in C.light_models()[:2]:
        out.append((os.path.basename(path)[:-5], onnx.load(path)))
    for name, case in sorted(C.node_cases().items()):
        out.append((name, case.model))
    return out


# ------------------------------------------------------------------- mutations
def _string_fields(m: onnx.ModelProto):
    """(description, getter, setter) for every string a model carries."""
    g = m.graph
    yield "graph.name", lambda: g.name, lambda v: setattr(g, "name", v)
    yield "graph.doc", lambda: g.doc_string, lambda v: setattr(g, "doc_string", v)
    yield "model.doc", lambda: m.doc_string, lambda v: setattr(m, "doc_string", v)
    yield "producer", lambda: m.producer_name, lambda v: setattr(m, "producer_name", v)
    for n in g.node:
        yield "node.name", (lambda n=n: n.name), (lambda v, n=n: setattr(n, "name", v))
        yield "node.op", (lambda n=n: n.op_type), (lambda v, n=n: setattr(n, "op_type", v))
        yield "node.domain", (lambda n=n: n.domain), (lambda v, n=n: setattr(n, "domain", v))
        for a in n.attribute:
            if a.type == onnx.AttributeProto.STRING:
                yield "attr.s", (lambda a=a: a.s.decode("utf-8", "replace")), (lambda v, a=a: setattr(a, "s", v.encode("utf-8", "surrogatepass")))
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        for d in vi.type.tensor_type.shape.dim:
            yield "dim_param", (lambda d=d: d.dim_param), (lambda v, d=d: setattr(d, "dim_param", v))


def _tensor_names(m: onnx.ModelProto) -> list[str]:
    g = m.graph
    names = {i.name for i in g.input} | {o.name for o in g.output} | {t.name for t in g.initializer}
    for n in g.node:
        names |= {t for t in n.input if t} | {t for t in n.output if t}
    return sorted(names)


def rename_tensor(m: onnx.ModelProto, old: str, new: str) -> None:
    """Rename a tensor everywhere in the top graph (the model stays valid)."""
    g = m.graph
    for coll in (g.input, g.output, g.value_info, g.initializer):
        for x in coll:
            if x.name == old:
                x.name = new
    for n in g.node:
        n.input[:] = [new if t == old else t for t in n.input]
        n.output[:] = [new if t == old else t for t in n.output]


def mutate(m: onnx.ModelProto, rng: random.Random, ctx: dict) -> str:
    """Apply one random mutation in place; returns what it did."""
    g = m.graph
    kind = rng.choice(["rename", "rename", "rename", "string", "string", "dim", "attr", "opset", "structure",
                       "tensor", "external", "external"])
    pl = payloads(ctx["canary"])
    if kind == "rename":
        names = _tensor_names(m)
        if names:
            old, new = rng.choice(names), rng.choice(pl) or "e"
            if new not in names:
                rename_tensor(m, old, new)
                return f"rename {old!r} -> {new!r}"
        kind = "string"
    if kind == "string":
        fields = list(_string_fields(m))
        desc, _, setter = rng.choice(fields)
        value = rng.choice(pl)
        with contextlib.suppress(ValueError, TypeError, UnicodeEncodeError):
            setter(value)
        return f"{desc} = {value!r:.60}"
    if kind == "dim":
        holders = [d for vi in list(g.input) + list(g.output) + list(g.value_info) for d in vi.type.tensor_type.shape.dim]
        holders += [t for t in g.initializer]
        if not holders:
            return "dim: none"
        h = rng.choice(holders)
        value = rng.choice([0, 1, -1, -7, 10**12, 2**62, 3])
        if isinstance(h, onnx.TensorProto):
            if h.dims:
                h.dims[rng.randrange(len(h.dims))] = value
            return f"initializer {h.name} dim -> {value}"
        h.dim_value = value
        return f"dim_value -> {value}"
    if kind == "attr":
        attrs = [(n, a) for n in g.node for a in n.attribute]
        if not attrs:
            return "attr: none"
        n, a = rng.choice(attrs)
        choice = rng.randrange(5)
        if choice == 0:
            a.type = rng.choice(list(onnx.AttributeProto.AttributeType.values()))
        elif choice == 1:
            a.ints[:] = [rng.choice([-1, 0, 2**40, 7])] * rng.randrange(0, 6)
            a.i = rng.choice([-(2**62), -1, 0, 2**62])
        elif choice == 2:
            a.name = rng.choice(pl) or "x"
        elif choice == 3:
            n.attribute.remove(a)
        else:
            a.s = rng.choice(pl).encode("utf-8", "surrogatepass")
        return f"attr {a.name!r:.30} of {n.op_type} #{choice}"
    if kind == "opset":
        v = rng.choice([0, 1, 6, 13, 28, 29, 99, 2**31])
        if m.opset_import:
            m.opset_import[0].version = v
        return f"opset -> {v}"
    if kind == "structure":
        if not g.node:
            return "structure: none"
        choice = rng.randrange(5)
        n = rng.choice(g.node)
        if choice == 0:
            g.node.remove(n)
        elif choice == 1:
            g.node.append(n)
        elif choice == 2 and n.input and n.output:
            n.input[0] = n.output[0]  # a cycle
        elif choice == 3:
            del g.output[:]
        else:
            n.op_type = rng.choice(["Foo", "Loop", "If", "Conv", "Reshape", "Resize", "Scan", "Constant"])
        return f"structure #{choice}"
    if kind == "tensor":
        if not g.initializer:
            return "tensor: none"
        t = rng.choice(g.initializer)
        choice = rng.randrange(3)
        if choice == 0:
            t.data_type = rng.randrange(0, 30)
        elif choice == 1 and t.raw_data:
            t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data))]
        else:
            t.dims.append(rng.choice([2, 0, 10**9]))
        return f"tensor {t.name!r:.30} #{choice}"
    # external data: point a weight (or a new one) at a file, inside or outside the folder
    inits = list(g.initializer)
    if not inits:
        t = helper.make_tensor("ext", TensorProto.FLOAT, [4], [0.0] * 4)
        g.initializer.append(t)
        inits = [t]
    t = rng.choice(inits)
    location = rng.choice(ctx["locations"])
    offset = rng.choice(["0", "0", "-8", "abc", str(10**15), "4"])
    length = rng.choice([None, None, "-1", "16", str(10**15)])
    t.ClearField("raw_data")
    for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"):
        t.ClearField(field)
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    t.external_data.add(key="location", value=location)
    t.external_data.add(key="offset", value=offset)
    if length is not None:
        t.external_data.add(key="length", value=length)
    return f"external {t.name!r:.30} -> {location!r} @{offset}+{length}"


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if not data:
        return data, "bytes: empty"
    choice = rng.randrange(4)
    b = bytearray(data)
    if choice == 0:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif choice == 1:
        b = b[: rng.randrange(len(b))]
    elif choice == 2:
        at = rng.randrange(len(b) + 1)
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        i = rng.randrange(len(b))
        b[i:i] = b[i:i + rng.randint(1, 64)]
    return bytes(b), f"bytes #{choice}"


# --------------------------------------------------------------------- running
class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    def handler(*_):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def prepare(folder: str) -> dict:
    """The sandbox of one case: the model folder, a secret outside it, links that lead out."""
    model_dir = os.path.join(folder, "model")
    os.makedirs(os.path.join(model_dir, "sub"), exist_ok=True)
    secret = os.path.join(folder, "secret.bin")
    with open(secret, "wb") as f:
        f.write(SECRET * 64)
    with open(os.path.join(model_dir, "w.bin"), "wb") as f:
        f.write(np.arange(4096, dtype=np.float32).tobytes())
    for name, target in (("link_file", secret), ("link_dir", folder)):
        with contextlib.suppress(FileExistsError):
            os.symlink(target, os.path.join(model_dir, name))
    locations = ["../secret.bin", secret, "link_file", "link_dir/secret.bin", "sub/../../secret.bin", "w.bin",
                 "sub/../w.bin", "missing.bin", "", "/dev/zero", "/proc/self/environ", "w.bin\x00.txt"]
    return {"model_dir": model_dir, "secret": secret, "canary": os.path.join(folder, "canary"), "locations": locations}


def _import(path: str):
    spec = importlib.util.spec_from_file_location(f"_fuzz_model_{next(_COUNTER)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _leaks(path: str) -> bool:
    files = [path] if os.path.isfile(path) else [os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs]
    for f in files:
        with open(f, "rb") as fh:
            if SECRET[:24] in fh.read():
                return True
    return False


def run_case(data: bytes, action: str, ctx: dict, timeout: int = 30) -> Outcome:
    """Write ``data`` as the model file and run ``action`` on it."""
    import mmconvert
    from mmconvert.ir.errors import MMConvertError

    path = os.path.join(ctx["model_dir"], "m.onnx")
    with open(path, "wb") as f:
        f.write(data)
    out = os.path.join(os.path.dirname(ctx["model_dir"]), f"out_{next(_COUNTER)}")
    if action in ("onnx",):
        out += ".onnx"
    try:
        with time_limit(timeout):
            if action == "load":
                mmconvert.load(path)
                return Outcome("artifact")
            if action == "inspect":
                mmconvert.inspect(path)
                return Outcome("artifact")
            mmconvert.convert(path, out, to=action, validate=False)
            return _check_artifact(out, action, ctx)
    except _Timeout:
        return Outcome("hang", f"{action} took over {timeout}s")
    except MMConvertError as e:
        return Outcome("typed", type(e).__name__)
    except RecursionError as e:  # noqa: F841 - deep input is a finding too
        return Outcome("untyped", "RecursionError")
    except Exception as e:  # noqa: BLE001 - a finding
        return Outcome("untyped", f"{type(e).__name__}: {str(e)[:200]}")
    finally:
        if os.path.exists(ctx["canary"]):
            os.unlink(ctx["canary"])
            return Outcome("code_exec", f"{action}: the canary was touched")  # noqa: B012
        if os.path.exists(out) and _leaks(out):
            return Outcome("outside_read", f"{action}: secret bytes in the artifact")  # noqa: B012
        if os.path.isdir(out):
            shutil.rmtree(out, ignore_errors=True)
        elif os.path.exists(out):
            os.unlink(out)


def _check_artifact(out: str, action: str, ctx: dict) -> Outcome:
    if action == "onnx":
        try:
            onnx.load(out, load_external_data=False)
        except Exception as e:  # noqa: BLE001
            return Outcome("bad_artifact", f"onnx output does not parse: {e}")
        return Outcome("artifact")
    model_py = os.path.join(out, "model.py")
    try:
        compile(open(model_py, encoding="utf-8").read(), model_py, "exec")
        module = _import(model_py)
        model = module.load_model()
    except Exception as e:  # noqa: BLE001
        return Outcome("bad_artifact", f"{action} artifact does not load: {type(e).__name__}: {str(e)[:200]}")
    _try_forward(model, os.path.join(ctx["model_dir"], "m.onnx"))
    return Outcome("artifact")


def _try_forward(model, source: str) -> None:
    """Run the model once on zeros where the inputs have static shapes (code in forward runs
    then); a failure here is not judged: a mutated model may compute nothing sensible."""
    import mmconvert
    from mmconvert.ir import dtypes

    with contextlib.suppress(Exception):
        g = mmconvert.load(source)
        feeds = []
        for name in g.real_inputs:
            vt = g.type_of(name)
            if vt is None or not vt.is_static or vt.dtype is None or int(np.prod(vt.shape)) > 1 << 16:
                return
            feeds.append(np.zeros(vt.shape, dtypes.to_numpy(vt.dtype)))
        model(*feeds)


def one_case(rng: random.Random, seed_models, ctx: dict, actions: tuple[str, ...]) -> tuple[Case, Outcome]:
    name, model = rng.choice(seed_models)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    done = [mutate(m, rng, ctx) for _ in range(rng.randint(1, 3))]
    try:
        data = m.SerializeToString()
    except Exception:  # noqa: BLE001 - a mutation protobuf refuses to serialize: mutate bytes instead
        data = model.SerializeToString()
        done.append("unserializable: original bytes")
    if rng.random() < 0.2:
        data, what = mutate_bytes(data, rng)
        done.append(what)
    action = rng.choice(actions)
    return Case(name, done, action), run_case(data, action, ctx)


def available_actions() -> tuple[str, ...]:
    actions = ["load", "inspect", "onnx"]
    try:
        import torch  # noqa: F401

        actions.append("pytorch")
    except ImportError:
        pass
    try:
        from mmconvert.backends import get_backend

        get_backend("tensorflow")
        actions.append("tensorflow")
    except Exception:  # noqa: BLE001 - the backend is not built or tensorflow is missing
        pass
    return tuple(actions)

"""The ``mmconvert`` command line.

Exit codes: 0 success, 1 parity mismatch, 2 bad usage or unreadable input,
3 unsupported (ops or features), 4 internal error (a bug: please report it).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback

import click
from rich.console import Console
from rich.table import Table

from mmconvert.backends import TARGETS
from mmconvert.frontends import FRONTENDS

from .errors import EXIT_BAD_INPUT, EXIT_INTERNAL, MMConvertError

def _console(**kw) -> Console:
    """Rich console; piped output gets a wide fixed width so tables are not squeezed."""
    probe = Console(**kw)
    return probe if probe.is_terminal else Console(width=150, **kw)


_out = _console(highlight=False, soft_wrap=True)
_err = _console(stderr=True, highlight=False, soft_wrap=True)


class _State:
    quiet = False


def _status(message: str):
    """A spinner on a terminal; nothing when piped or quiet."""
    if _State.quiet or not _err.is_terminal:
        from contextlib import nullcontext

        return nullcontext()
    return _err.status(message)


class _Source(click.ParamType):
    """An existing file or folder, or a source spec a frontend recognizes without a path
    (``package.module:factory`` for a PyTorch module)."""

    name = "source"

    def convert(self, value, param, ctx):
        from mmconvert.frontends import detect_spec

        if os.path.exists(value) or detect_spec(value):
            return value
        self.fail(f"Path '{value}' does not exist (nor is it package.module:factory).", param, ctx)


SOURCE = _Source()


def _named(value: str, option: str, form: str) -> tuple[str, str]:
    """``NAME:REST`` split at its last colon (a name may hold colons, a value does not)."""
    name, sep, rest = value.rpartition(":")
    if not sep or not name or not rest:
        raise click.BadParameter(f"'{value}' is not {form}", param_hint=option)
    return name, rest


def _parse_dtypes(values: tuple[str, ...]) -> dict[str, str]:
    return dict(_named(v, "--input-dtype", "NAME:DTYPE (e.g. input_ids:int64)") for v in values)


def _parse_dynamic(values: tuple[str, ...]) -> dict[str, dict[int, str]]:
    form = "NAME:AXIS=DIM[,AXIS=DIM] (e.g. input_ids:0=batch,1=seq)"
    dynamic: dict[str, dict[int, str]] = {}
    for value in values:
        name, spec = _named(value, "--dynamic", form)
        for item in spec.split(","):
            axis, eq, label = item.partition("=")
            if not eq or not axis.strip().isdigit() or not label.strip().isidentifier():
                raise click.BadParameter(f"'{value}' is not {form}", param_hint="--dynamic")
            dynamic.setdefault(name, {})[int(axis)] = label.strip()
    return dynamic


def _source_options(input_shapes, input_dtypes, dynamic, trust_source_ops: bool = False) -> dict:
    """The load options a source takes from --input-shape, --input-dtype, --dynamic and
    --trust-source-ops."""
    options: dict = {}
    if trust_source_ops:
        options["trust_source_ops"] = True
    if input_shapes:
        options["input_shapes"] = _parse_shapes(input_shapes)
    if input_dtypes:
        options["input_dtypes"] = _parse_dtypes(input_dtypes)
    if dynamic:
        options["dynamic_shapes"] = _parse_dynamic(dynamic)
    return options


def _parse_shapes(values: tuple[str, ...]) -> dict[str, list]:
    shapes = {}
    for value in values:
        name, dims = _named(value, "--input-shape", "NAME:DIMS (e.g. input:1,3,224,224)")
        shapes[name] = [int(d) if d.lstrip("-").isdigit() else d for d in dims.split(",")]
    return shapes


@functools.lru_cache(maxsize=None)
def _target_flags() -> dict[str, tuple]:
    """Every backend's declared options that have a flag: name -> (Option, [targets]); read
    once, when ``convert``'s flags are built."""
    from mmconvert.backends import get_backend
    from mmconvert.ir.errors import MMConvertError

    flags: dict[str, tuple] = {}
    for target in TARGETS:
        try:
            declared = getattr(get_backend(target), "OPTIONS", {})
        except MMConvertError:  # a target whose package is missing has no flags
            continue
        for name, option in declared.items():
            if option.cli == "api":
                continue
            if name in flags and flags[name][0].cli != option.cli:
                raise RuntimeError(f"option '{name}' is spelled two ways by two backends")
            flags.setdefault(name, (option, []))[1].append(target)
    return flags


def _target_options(f):
    """The target-specific flags of ``convert``, built from the backends' ``OPTIONS``
    (``ir/options.py``): a new backend option needs no edit here."""
    from mmconvert.ir.options import flag_name

    for name, (option, targets) in reversed(list(_target_flags().items())):
        flag = flag_name(name)
        implies = f" (implies {', '.join(map(flag_name, option.implies))})" if option.implies else ""
        text = f"{', '.join(targets)}: {option.help}{implies}."
        kind = option.cli
        if kind == "flag":
            decl = click.option(flag, name, is_flag=True, default=None, help=text)
        elif kind == "switch":
            decl = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=text)
        elif kind == "choice":
            decl = click.option(flag, name, type=click.Choice(option.choices), default=None, help=text)
        elif kind == "int":
            decl = click.option(flag, name, type=int, default=None, help=text)
        else:  # names
            decl = click.option(flag, name, default=None, is_flag=False, flag_value="all", metavar="[NAMES]", help=text)
        f = decl(f)
    return f


def _target_values(to: str, given: dict) -> dict:
    """The API keywords for the target flags given; a flag of another target is a usage error."""
    from mmconvert.ir.options import flag_name, from_cli

    flags = _target_flags()
    options: dict = {}
    for name, value in given.items():
        option, targets = flags[name]
        values = from_cli(name, option, value)
        if values and to not in targets:
            raise click.UsageError(f"{flag_name(name)}: only with --to {' or '.join(targets)}")
        options.update(values)
    return options


def _trust_option(f):
    """``--trust-source-ops``: the same flag on every command that runs or reads a source."""
    return click.option(
        "--trust-source-ops", "trust_source_ops", is_flag=True,
        help="Let a source whose graph holds ops with effects outside the model (files, network, processes,"
             " tf.data; refused by default, exit 2) be traced and run. Only for models you would run yourself;"
             " a pickle that names a Python callable is never loaded.")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mmconvert", prog_name="mmconvert")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the final result.")
def cli(quiet: bool) -> None:
    """Convert models between ONNX, PyTorch and TensorFlow through one IR.

    \b
    Examples:
      mmconvert inspect model.onnx
      mmconvert convert model.onnx --to onnx -o out/model.onnx --opset 17
      mmconvert validate model.onnx out/model.onnx --per-layer
      mmconvert optimize model.onnx -o out/model.opt.onnx
      mmconvert ops --to onnx
    """
    _State.quiet = quiet


@cli.command()
@click.argument("source", type=SOURCE)
@click.option("--to", "to", type=click.Choice(TARGETS), required=True, help="Target framework.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Output file (onnx) or folder (pytorch, tensorflow).")
@click.option("--from", "framework", type=click.Choice(FRONTENDS), default=None,
              help="Source framework (detected from the file's content when omitted).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:DIMS",
              help="Shape of an input, e.g. input:1,3,224,224 (repeatable; names allowed as dims: batch,3,224,224)."
                   " For a PyTorch module: the example input it is captured with, by forward() argument name.")
@click.option("--input-dtype", "input_dtypes", multiple=True, metavar="NAME:DTYPE",
              help="PyTorch module: dtype of an example input (default float32), e.g. input_ids:int64 (repeatable).")
@click.option("--dynamic", "dynamic", multiple=True, metavar="NAME:AXIS=DIM",
              help="PyTorch module: axes that stay dynamic, named, e.g. input_ids:0=batch,1=seq (repeatable).")
@click.option("--signature", default=None, metavar="NAME",
              help="SavedModel source: the signature to convert (default: serving_default).")
@click.option("--optimize/--no-optimize", default=None,
              help="Run the optimizer's passes (default: on for pytorch and tensorflow, off for onnx, which keeps the source's structure).")
@click.option("--force", is_flag=True, help="Replace OUT if it exists (only an output mmconvert wrote).")
@click.option("--no-validate", is_flag=True, help="Skip the parity check after converting.")
@click.option("-v", "--verbose", is_flag=True, help="List the passes run and what each changed.")
@click.option("--report", type=click.Path(dir_okay=False), default=None, help="Write the conversion summary (with the parity report) as JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--atol", type=float, default=None, help="Parity: absolute tolerance for float outputs (default per dtype).")
@click.option("--rtol", type=float, default=None, help="Parity: relative tolerance for float outputs (default per dtype).")
@click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE", help="Parity: value of a symbolic dim, e.g. batch=2 (repeatable).")
@_trust_option
@_target_options
def convert(source, to, output, framework, input_shapes, input_dtypes, dynamic, signature, optimize, force,
            no_validate, verbose, report, as_json, atol, rtol, dims, trust_source_ops, **target_flags):
    """Convert SOURCE to another framework.

    SOURCE is a model file or folder (.onnx, .pt2 from torch.export.save, TorchScript .pt,
    an IR folder), or package.module:factory naming a function that returns a
    torch.nn.Module: the module is imported (which runs its code, as any import does) and
    the factory called with no arguments.  A PyTorch module is checked against itself.

    The artifact is written only after its parity check has run: an error or an
    interruption leaves nothing behind, and an existing OUT is replaced only with --force.

    \b
    Examples:
      mmconvert convert model.onnx --to onnx -o model_opset17.onnx --opset 17
      mmconvert convert model.onnx --to pytorch -o model_pt/
      mmconvert convert model.onnx --to pytorch -o model_pt/ --force --verbose
      mmconvert convert mypkg.models:make_bert --to onnx -o bert.onnx \\
          --input-shape input_ids:2,16 --input-dtype input_ids:int64 --dynamic input_ids:0=batch,1=seq
      mmconvert convert model.pt2 --to pytorch -o model_pt/
      mmconvert convert saved_model/ --to pytorch -o model_pt/ --signature serving_default
    """
    from mmconvert.validators.report import DROPPED_NOTE, dropped_text

    from .api import convert as do_convert

    if report:
        _check_writable(report, force)
    options = {"force": force, "optimize": optimize}
    options.update(_target_values(to, target_flags))
    if signature is not None:
        options["signature"] = signature
    options.update(_source_options(input_shapes, input_dtypes, dynamic, trust_source_ops))
    if not no_validate:
        options.update(_parity_options(atol, rtol, dims))
    with _status(f"converting {source} -> {to} ..."):
        result = do_convert(source, output, to=to, framework=framework, validate=not no_validate, **options)
    summary = {
        "source": result.source, "target": result.target, "output": result.output, "opset": result.opset,
        "nodes": len(result.graph), "seconds": round(result.seconds, 3),
        "passes": [r.to_dict() for r in result.passes],
        "parity": None if result.parity is None else result.parity.summary(),
    }
    route = result.graph.metadata.get("pytorch_route")
    if route:
        summary["capture"] = route
    dropped = [dropped_text(d) for d in result.graph.metadata.get("dropped_ops") or []]
    if dropped:
        summary["dropped"] = dropped
    if result.exports:
        summary["exports"] = {kind: r.summary() for kind, r in result.exports.items()}
    if not _summary_out(summary, result, report, as_json, force):
        opset_txt = f" (opset {result.opset})" if result.opset else ""
        _out.print(f"[green]converted[/] {_text(source)} -> {_text(result.output)}{opset_txt}: {summary['nodes']} nodes"
                   f" in {summary['seconds']:.2f}s", markup=True)
        if route and not _State.quiet:
            if route["path"] == "native":
                line = f"route: native ATen mapping (program: {route.get('capture')})"
            else:
                line = f"route: {route['path']} -> ONNX frontend, because {route.get('reason')}"
            _out.print(f"  {_text(line)}", markup=False)
        for text in dropped if result.parity is None or _State.quiet else ():  # else the report says it
            _out.print(f"  dropped: {_text(text)} ({DROPPED_NOTE})", markup=False)
        if verbose:
            for r in result.passes:
                _out.print(f"  pass {r.name}: {r.changes} change(s), {r.seconds * 1000:.0f} ms", markup=False)
        if result.parity is not None and not _State.quiet:
            _render().print_report(result.parity, _out)
            for kind, r in result.exports.items():
                _out.print(f"export {kind}:", markup=False)
                _render().print_report(r, _out)
    return result.exit_code


def _names(values: tuple[str, ...]) -> list[str]:
    """Pass names from repeatable, comma-separated options."""
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


@cli.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=True), required=False)
@click.option("-o", "--output", type=click.Path(), default=None, help="The optimized .onnx file.")
@click.option("--passes", "passes", multiple=True, metavar="P1,P2",
              help="Run only these passes, in this order (default: the optimizer's list; see --list-passes).")
@click.option("--skip", "skip", multiple=True, metavar="P1,P2", help="Leave these passes out.")
@click.option("--check-passes", is_flag=True,
              help="Run ONNX Runtime before and after every pass; name the pass that changes an output (exit 1).")
@click.option("--dump-after", "dump_after", multiple=True, metavar="PASS",
              help="Write the IR as it was after PASS to the folder OUT.after-PASS (repeatable).")
@click.option("--simplify", is_flag=True, help="Run onnxsim first (needs mmconvert[simplify]).")
@click.option("--from", "framework", type=click.Choice(FRONTENDS), default=None,
              help="Source framework (detected from the file's content when omitted).")
@click.option("--opset", type=int, default=None, help="ONNX opset to write (default: the source's where every node fits).")
@click.option("--force", is_flag=True, help="Replace OUT (and the dumps) if they exist (only outputs mmconvert wrote).")
@click.option("--no-validate", is_flag=True, help="Skip the parity check of the result against SOURCE.")
@click.option("--list-passes", is_flag=True, help="List the optimizer's passes and the rule each applies, then exit.")
@click.option("--report", type=click.Path(dir_okay=False), default=None, help="Write the summary (with the parity report) as JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--atol", type=float, default=None, help="Parity (and --check-passes): absolute tolerance.")
@click.option("--rtol", type=float, default=None, help="Parity (and --check-passes): relative tolerance.")
@click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE", help="Parity: value of a symbolic dim, e.g. batch=2 (repeatable).")
@_trust_option
def optimize(source, output, passes, skip, check_passes, dump_after, simplify, framework, opset, force, no_validate,
             list_passes, report, as_json, atol, rtol, dims, trust_source_ops):
    """Optimize SOURCE into an ONNX file: fold, clean up and fuse, never changing what it computes.

    Prints the op histogram before and after and what each pass changed; the result is
    checked against SOURCE on ONNX Runtime unless --no-validate.

    \b
    Examples:
      mmconvert optimize model.onnx -o model.opt.onnx
      mmconvert optimize model.onnx -o model.opt.onnx --skip fuse_attention --check-passes
      mmconvert optimize model.onnx -o model.opt.onnx --passes remove_noops,fold_constants --dump-after fold_constants
    """
    from mmconvert.backends import optimizer_passes
    from mmconvert.ir.passes import OPTIMIZER, describe

    if list_passes:
        default = set(optimizer_passes("onnx"))
        for name in OPTIMIZER:
            mark = "" if name in default else "  (not for the onnx target)"
            _out.print(f"{name}: {describe(name)}{mark}", markup=False)
        return 0
    if not source or not output:
        raise click.UsageError("optimize needs SOURCE and -o OUT")
    from .api import optimize as do_optimize

    if report:
        _check_writable(report, force)
    options = {"force": force}
    if opset is not None:
        options["opset"] = opset
    if trust_source_ops:
        options["trust_source_ops"] = True
    options.update(_parity_options(atol, rtol, dims))
    with _status(f"optimizing {source} ..."):
        result = do_optimize(source, output, framework=framework, validate=not no_validate,
                             passes=_names(passes) or None, skip=_names(skip), check_passes=check_passes,
                             dump_after=_names(dump_after), simplify=simplify, **options)
    before, after = result.ops_before, result.ops_after
    summary = {
        "source": result.source, "output": result.output, "opset": result.opset,
        "nodes_before": sum(before.values()), "nodes_after": sum(after.values()),
        "seconds": round(result.seconds, 3), "passes": [r.to_dict() for r in result.passes],
        "ops_before": dict(before), "ops_after": dict(after), "dumps": result.details.get("dumps", {}),
        "parity": None if result.parity is None else result.parity.summary(),
    }
    if not _summary_out(summary, result, report, as_json, force):
        _out.print(f"[green]optimized[/] {_text(source)} -> {_text(result.output)} (opset {result.opset}):"
                   f" {summary['nodes_before']} -> {summary['nodes_after']} nodes in {summary['seconds']:.2f}s", markup=True)
        if not _State.quiet:
            hist = Table(title="ops", show_edge=False)
            for col, justify in (("op", "left"), ("before", "right"), ("after", "right"), ("change", "right")):
                hist.add_column(col, justify=justify)
            for op in sorted(set(before) | set(after), key=lambda o: (-max(before.get(o, 0), after.get(o, 0)), o)):
                b, a = before.get(op, 0), after.get(op, 0)
                hist.add_row(_text(op), str(b), str(a), f"{a - b:+d}" if a != b else "")
            _out.print(hist)
            changed = Table(title="passes that changed the graph", show_edge=False)
            for col, justify in (("pass", "left"), ("changes", "right"), ("ms", "right")):
                changed.add_column(col, justify=justify)
            idle = []
            for r in result.passes:
                if r.changes:
                    changed.add_row(r.name, str(r.changes), f"{r.seconds * 1000:.0f}")
                else:
                    idle.append(r.name)
            _out.print(changed)
            if idle:
                _out.print(f"unchanged: {', '.join(idle)}", markup=False)
            for name in _names(dump_after):
                path = summary["dumps"].get(name)
                _out.print(f"IR after {name}: {_text(path)}" if path else f"{name} changed nothing: no IR written for it",
                           markup=True)
        if result.parity is not None and not _State.quiet:
            _render().print_report(result.parity, _out)
    return result.parity.exit_code if result.parity is not None else 0


@cli.command()
@click.argument("reference", type=SOURCE)
@click.argument("candidate", type=click.Path(exists=True, dir_okay=True))
@click.option("--atol", type=float, default=None, help="Absolute tolerance for float outputs (default per dtype: float32 1e-4).")
@click.option("--rtol", type=float, default=None, help="Relative tolerance for float outputs (default per dtype: float32 1e-3).")
@click.option("--per-layer", is_flag=True, help="Compare every intermediate tensor and name the first diverging node.")
@click.option("--isolated", is_flag=True, help="Per layer: feed each candidate node the reference inputs (default: accumulated).")
@click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE", help="Value of a symbolic dim, e.g. batch=2 (repeatable).")
@click.option("--inputs", "data", type=click.Path(exists=True), default=None,
              help="Input data: an .npz (keys = input names) or an ONNX test_data_set_N folder.")
@click.option("--samples", type=click.IntRange(1, 100), default=2, show_default=True, help="Generated input samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated inputs.")
@click.option("--target", type=click.Choice(TARGETS), default=None, help="Candidate kind (detected when omitted).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:DIMS",
              help="PyTorch reference: shape of an example input it is captured with (repeatable).")
@click.option("--input-dtype", "input_dtypes", multiple=True, metavar="NAME:DTYPE",
              help="PyTorch reference: dtype of an example input (repeatable).")
@click.option("--dynamic", "dynamic", multiple=True, metavar="NAME:AXIS=DIM",
              help="PyTorch reference: axes that stay dynamic, e.g. input_ids:0=batch,1=seq (repeatable).")
@click.option("--signature", default=None, metavar="NAME",
              help="SavedModel reference: the signature to run (default: serving_default).")
@click.option("--report", type=click.Path(dir_okay=False), default=None, help="Write the JSON report here.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Write a JUnit XML report here.")
@click.option("--html", type=click.Path(dir_okay=False), default=None, help="Write a self-contained HTML report here.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the table.")
@click.option("--force", is_flag=True, help="Replace existing report files.")
@_trust_option
def validate(reference, candidate, atol, rtol, per_layer, isolated, dims, data, samples, seed, target, input_shapes,
             input_dtypes, dynamic, signature, report, junit, html, as_json, force, trust_source_ops):
    """Check that CANDIDATE computes what REFERENCE computes.

    REFERENCE is the source model, run by its own framework (an ONNX file on ONNX Runtime,
    optimizations off; a PyTorch module, .pt2 or .pt by PyTorch; a SavedModel, .keras or
    .h5 by TensorFlow); CANDIDATE is a converted artifact: an .onnx file or an emitted folder.
    Exit 0 when every output matches, 1 on a mismatch.

    \b
    Examples:
      mmconvert validate model.onnx out/model_pt/
      mmconvert validate model.onnx out/model.onnx --per-layer --html parity.html
      mmconvert validate model.onnx out/ --dim batch=4 --atol 1e-5 --junit parity.xml
    """
    from .api import validate as do_validate

    if isolated and not per_layer:
        raise click.UsageError("--isolated only applies with --per-layer")
    options = _parity_options(atol, rtol, dims)
    options.update(samples=samples, seed=seed, per_layer=per_layer, mode="isolated" if isolated else "accumulated")
    options.update(_source_options(input_shapes, input_dtypes, dynamic, trust_source_ops))
    if signature is not None:
        options["signature"] = signature
    if data:
        options["data"] = data
    for path in (report, junit, html):
        if path:
            _check_writable(path, force)
    with _status("validating ..."):
        result = do_validate(reference, candidate, target=target, **options)
    render = _render()
    if report:
        _write(report, render.to_json(result), force)
    if junit:
        _write(junit, render.to_junit(result), force)
    if html:
        _write(html, render.to_html(result), force)
    if as_json:
        click.echo(render.to_json(result))
    else:
        render.print_report(result, _out)
    return result.exit_code


@cli.command()
@click.argument("source", type=SOURCE)
@click.option("--from", "framework", type=click.Choice(FRONTENDS), default=None,
              help="Source framework (detected from the file's content when omitted).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:DIMS",
              help="PyTorch module: shape of an example input (repeatable).")
@click.option("--input-dtype", "input_dtypes", multiple=True, metavar="NAME:DTYPE",
              help="PyTorch module: dtype of an example input (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_trust_option
def inspect(source, framework, input_shapes, input_dtypes, as_json, trust_source_ops):
    """Show a model's inputs, outputs, ops, parameters and opset.

    \b
    Examples:
      mmconvert inspect model.onnx
      mmconvert inspect model.onnx --json | jq .ops
    """
    from .api import inspect as do_inspect

    info = do_inspect(source, framework, **_source_options(input_shapes, input_dtypes, (), trust_source_ops))
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return 0
    _out.print(f"[bold]{_text(source)}[/]  format={_text(info['format'])}  opset={_text(info['opset_imports'])}"
               + (f"  producer={_text(info['producer'])}" if info["producer"] else ""))
    io = Table(title="inputs / outputs", show_edge=False)
    io.add_column("kind")
    io.add_column("name")
    io.add_column("type")
    for kind in ("inputs", "outputs"):
        for v in info[kind]:
            io.add_row(kind[:-1], _text(v["name"]), _text(v["type"]))
    _out.print(io)
    ops = Table(title=f"{info['nodes']} nodes", show_edge=False)
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, n in info["ops"].items():
        ops.add_row(_text(op), str(n))
    _out.print(ops)
    _out.print(f"parameters: {info['parameters']:,} ({_human(info['parameter_bytes'])}) in {info['initializers']} initializers")
    return 0


@cli.command()
@click.option("--to", "to", type=click.Choice(TARGETS), default="onnx", show_default=True, help="Backend to list.")
@click.option("--json", "as_json", is_flag=True)
def ops(to, as_json):
    """List the ops a backend supports, with the opset versions each handler covers.

    \b
    Example:
      mmconvert ops --to onnx
    """
    from mmconvert.backends import get_backend

    table = get_backend(to).supported_ops()
    if as_json:
        click.echo(json.dumps(table, indent=2))
        return 0
    t = Table(title=f"{to} backend: {len(table)} ops", show_edge=False)
    t.add_column("op")
    t.add_column("opsets")
    for op, versions in table.items():
        t.add_row(op, ", ".join(versions))
    _out.print(t)
    return 0


def _summary_out(summary: dict, result, report, as_json: bool, force: bool) -> bool:
    """Write the summary (with the full parity report) to ``report``; print it as JSON when
    asked (True: the caller prints nothing else)."""
    if report:
        full = dict(summary, parity=None if result.parity is None else json.loads(_render().to_json(result.parity)))
        _write(report, json.dumps(full, indent=2), force)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    return as_json


def _parity_options(atol, rtol, dims) -> dict:
    options: dict = {}
    if atol is not None:
        options["atol"] = atol
    if rtol is not None:
        options["rtol"] = rtol
    parsed = {}
    for item in dims:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.isdigit():
            raise click.BadParameter(f"'{item}' is not NAME=VALUE (e.g. batch=2)", param_hint="--dim")
        parsed[name] = int(value)
    if parsed:
        options["dims"] = parsed
    return options


def _render():
    from mmconvert.validators import render

    return render


def _write(path: str, text: str, force: bool) -> None:
    """Write a report through an output claim (atomic; an existing file only with --force)."""
    from mmconvert.ir.output import write_text

    write_text(path, text, force=force)


def _check_writable(path: str, force: bool) -> None:
    """Refuse a report path before any work is done (the same rules as the write)."""
    from mmconvert.ir.output import check

    check(path, "file", force=force)


def _text(value) -> str:
    """A path or name as plain text inside rich markup."""
    from rich.markup import escape

    return escape(str(value))


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def _warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main(argv: list[str] | None = None) -> None:
    import warnings

    from mmconvert.ir.output import Interrupted, ignore_signals, signals_as_exceptions

    previous_format, warnings.formatwarning = warnings.formatwarning, _warning  # one line, no source path

    try:
        with signals_as_exceptions(restore=False):
            try:
                code = cli.main(args=argv, prog_name="mmconvert", standalone_mode=False)
            finally:  # done or cleaned up: a later signal changes neither the output nor the status
                ignore_signals()
    except click.exceptions.Abort:
        _err.print("aborted")
        code = 130
    except click.UsageError as e:
        command = e.ctx.command_path if e.ctx is not None else "mmconvert"
        _err.print(f"[red]error:[/] {_text(' '.join(e.format_message().split()))} (see '{_text(command)} --help')",
                   markup=True,
                   highlight=False, soft_wrap=True)
        code = EXIT_BAD_INPUT
    except click.ClickException as e:
        _err.print(f"[red]error:[/] {_text(' '.join(e.format_message().split()))}", markup=True, highlight=False,
                   soft_wrap=True)
        code = e.exit_code
    except MMConvertError as e:
        _err.print(f"[red]error:[/] {_text(e)}", markup=True, highlight=False, soft_wrap=True)
        code = e.exit_code
    except Interrupted as e:
        _err.print(f"[red]error:[/] {_text(e.message)}", markup=True, highlight=False, soft_wrap=True)
        code = e.exit_code
    except KeyboardInterrupt:
        code = 130
    except Exception:  # a bug: say so, keep the traceback for the report
        if os.environ.get("MMCONVERT_DEBUG"):
            traceback.print_exc()
        else:
            _err.print("[red]internal error[/] (a bug in mmconvert; rerun with MMCONVERT_DEBUG=1 and report the traceback):",
                       markup=True)
            _err.print(f"  {traceback.format_exc().strip().splitlines()[-1]}", markup=False)
        code = EXIT_INTERNAL
    warnings.formatwarning = previous_format
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

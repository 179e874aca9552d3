"""Declared options: what each frontend's ``load``, each backend's ``emit`` and the parity
step take, with their help text and how the command line spells them.

Every stage declares ``OPTIONS = {name: Option(...)}``.  The API refuses any keyword no stage
declares (``mmconvert.api.check_options``, naming the closest one) and the CLI builds a
backend's flags from its declarations (``--<name>`` with dashes, its help prefixed with the
target), so a new target or option needs no edit in ``mmconvert/cli.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

# how the command line spells an option (``cli``):
#   "api"    Python only (no flag: e.g. a torch tensor as example input)
#   "flag"   --name switches it on (True)
#   "switch" --name / --no-name
#   "choice" --name VALUE, one of ``choices``
#   "int"    --name N
#   "names"  --name [A,B,...]: a comma-separated list of names, or alone: all of them (True)
CLI_KINDS = ("api", "flag", "switch", "choice", "int", "names")


@dataclass(frozen=True)
class Option:
    """One declared option."""

    help: str
    cli: str = "api"
    choices: tuple[str, ...] = ()
    # options a given value also sets to True (``tflite_quantize`` implies ``tflite``)
    implies: tuple[str, ...] = ()

    def __post_init__(self):
        if self.cli not in CLI_KINDS:
            raise ValueError(f"option kind '{self.cli}' is none of {', '.join(CLI_KINDS)}")
        if (self.cli == "choice") != bool(self.choices):
            raise ValueError("an option has choices exactly when it is a 'choice'")


def flag_name(name: str) -> str:
    """The command-line flag of option ``name``: ``inputs_as_nhwc`` -> ``--inputs-as-nhwc``."""
    return "--" + name.replace("_", "-")


def from_cli(name: str, option: Option, value) -> dict:
    """The API keywords a command-line ``value`` of ``option`` stands for (``{}`` when the
    flag was not given)."""
    if value is None or (option.cli == "flag" and not value):
        return {}
    if option.cli == "names":
        value = True if value == "all" else [v for v in str(value).split(",") if v]
    return {name: value, **{other: True for other in option.implies}}


__all__ = ["CLI_KINDS", "Option", "flag_name", "from_cli"]

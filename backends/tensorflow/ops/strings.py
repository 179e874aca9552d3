"""String ops (TensorFlow has a string dtype): StringConcat, RegexFullMatch, StringSplit,
StringNormalizer."""

from __future__ import annotations

from ..registry import register
from .common import NodeCtx, lit


@register("StringConcat", since=20)
def string_concat(c: NodeCtx) -> None:
    c.out(f"{c.helper('string_concat')}({c.x(0)}, {c.x(1)})")


@register("RegexFullMatch", since=20)
def regex_full_match(c: NodeCtx) -> None:
    c.out(f"tf.strings.regex_full_match({c.x(0)}, {c.attr('pattern')!r})")


@register("StringSplit", since=20)
def string_split(c: NodeCtx) -> None:
    sep = c.attr("delimiter")
    maxsplit = c.attr("maxsplit")
    c.outs(f"{c.helper('string_split')}({c.x(0)}, {sep!r}, {None if maxsplit is None else int(maxsplit)})")


@register("StringNormalizer", since=10)
def string_normalizer(c: NodeCtx) -> None:
    stops = [s.decode() if isinstance(s, bytes) else s for s in (c.attr("stopwords") or [])]
    c.out(f"{c.helper('string_normalizer')}({c.x(0)}, {c.attr('case_change_action', 'NONE')!r}, "
          f"{bool(int(c.attr('is_case_sensitive', 0)))}, {lit(stops)})")

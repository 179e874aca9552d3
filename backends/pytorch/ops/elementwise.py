"""Elementwise ops: arithmetic, comparison, logic, bitwise, math functions."""

from __future__ import annotations

from ..dialect import NodeCtx, lit, torch_dtype
from ..registry import register

_INT = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
# unsigned types torch stores but has few CPU kernels for: computed in int64
_WIDE_UINT = ("uint16", "uint32", "uint64")


def _widen(handler, compare: bool = False):
    """Run ``handler`` on int64 copies of uint16/32/64 inputs and cast the result back."""
    def wrapped(c: NodeCtx) -> None:
        dt = c.dtype(0)
        if dt not in _WIDE_UINT:
            return handler(c)
        real_x = c.x

        def x(i):
            e = real_x(i)
            return None if e is None else f"{e}.long()"
        c.x = x
        real_out = c.out

        def out(expr, j=0, kind="tensor"):
            return real_out(expr if compare else f"({expr}).to({torch_dtype(dt)})", j, kind)
        c.out = out
        c.scalar = lambda i: None
        handler(c)
    return wrapped


def operand(c: NodeCtx, i: int, other: int | None = None) -> str:
    """Input ``i`` as an expression; a one-element constant that does not widen the
    result's rank is written as a Python number."""
    s = c.scalar(i)
    if s is not None and other is not None and c.has(other):
        r_other = c.rank(other)
        if r_other is not None and r_other >= c.rank(i) and c.dtype(i) == c.dtype(other) and c.dtype(i) != "bool":
            return lit(s)
    v = c.val(i)
    if v.kind == "int" and other is not None:
        return v.expr
    return c.x(i)


def shape_binop(c: NodeCtx, op: str) -> bool:
    """Arithmetic on Python shape values (ints and int lists) stays Python."""
    if not (c.is_shape_value(0) and c.is_shape_value(1)):
        return False
    kinds = [c.val(i).kind for i in (0, 1)]
    if not any(k in ("list", "int") for k in kinds):
        return False
    if c.dtype(0) not in ("int64", "int32", None):
        return False

    def scal(i):
        v = c.val(i)
        if v.kind == "int":
            return v.expr, None
        if v.kind == "list":
            return None, v.expr
        if v.const.size == 1 and v.const.ndim == 0:
            return lit(int(v.const)), None
        return None, lit([int(a) for a in v.const.reshape(-1)])

    (sa, la), (sb, lb) = scal(0), scal(1)
    pyop = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "//"}[op]
    if sa is not None and sb is not None:
        c.out(f"{sa} {pyop} {sb}", kind="int")
    elif la is not None and lb is not None:
        c.out(f"[a {pyop} b for a, b in zip({la}, {lb})]", kind="list")
    elif la is not None:
        c.out(f"[a {pyop} {sb} for a in {la}]", kind="list")
    else:
        c.out(f"[{sa} {pyop} b for b in {lb}]", kind="list")
    return True


def _binary(pyop: str | None, fn: str | None = None):
    def handler(c: NodeCtx) -> None:
        op = c.node.op_type
        if op in ("Add", "Sub", "Mul") and shape_binop(c, op):
            return
        a, b = operand(c, 0, 1), operand(c, 1, 0)
        if a.replace(".", "").replace("-", "").isdigit() and b.replace(".", "").replace("-", "").isdigit():
            a = c.x(0)
        if pyop and not (_is_lit(a) and _is_lit(b)):
            if _is_lit(a) and op in ("Sub",):
                c.out(f"{a} - {b}" if not a.startswith("-") else f"({a}) - {b}")
            else:
                c.out(f"{a} {pyop} {b}")
        else:
            c.out(f"{fn}({c.x(0)}, {c.x(1)})")
    return handler


def _is_lit(expr: str) -> bool:
    return expr[:1].isdigit() or expr[:1] == "-" and expr[1:2].isdigit() or expr.startswith("math.") or expr in ("True", "False")


register("Add")(_widen(_binary("+", "torch.add")))
register("Sub")(_widen(_binary("-", "torch.sub")))
register("Mul")(_widen(_binary("*", "torch.mul")))


def div(c: NodeCtx) -> None:
    if c.dtype(0) in _INT:
        if shape_binop(c, "Div") and c.val(0).kind != "tensor":
            return
        c.out(f"torch.div({c.x(0)}, {operand(c, 1, 0)}, rounding_mode='trunc')")
    else:
        a, b = operand(c, 0, 1), operand(c, 1, 0)
        if _is_lit(a):
            a = c.x(0)
        c.out(f"{a} / {b}")


@register("Pow")
def pow_(c: NodeCtx) -> None:
    s = c.scalar(1)
    base = c.x(0)
    if s is not None and c.rank(0) is not None and c.rank(0) >= c.rank(1):
        if s == 2 and c.dtype(0) not in _INT:
            c.out(f"{base} * {base}")
            return
        if s == 0.5 and c.dtype(0) not in _INT:
            c.out(f"torch.sqrt({base})")
            return
        expr = f"torch.pow({base}, {lit(s)})"
        if isinstance(s, float) and c.dtype(0) in _INT:
            expr += f".to({torch_dtype(c.dtype(0))})"
        c.out(expr)
        return
    expr = f"torch.pow({base}, {c.x(1)})"
    if c.dtype(0) != c.dtype(1):
        expr += f".to({torch_dtype(c.dtype(0))})"
    c.out(expr)


def mod(c: NodeCtx) -> None:
    fn = "torch.fmod" if c.attr("fmod", 0) else "torch.remainder"
    c.out(f"{fn}({c.x(0)}, {c.x(1)})")


def _compare(pyop: str):
    def handler(c: NodeCtx) -> None:
        a, b = operand(c, 0, 1), operand(c, 1, 0)
        if _is_lit(a):
            a = c.x(0)
        c.out(f"{a} {pyop} {b}")
    return handler


for _op, _py in (("Equal", "=="), ("Less", "<"), ("Greater", ">"), ("LessOrEqual", "<="), ("GreaterOrEqual", ">=")):
    register(_op)(_widen(_compare(_py), compare=True))

for _op, _fn in (("And", "torch.logical_and"), ("Or", "torch.logical_or"), ("Xor", "torch.logical_xor"),
                 ("BitwiseAnd", "torch.bitwise_and"), ("BitwiseOr", "torch.bitwise_or"),
                 ("BitwiseXor", "torch.bitwise_xor")):
    register(_op)(_widen(_binary(None, _fn)))


def bitshift(c: NodeCtx) -> None:
    op = "<<" if c.attr("direction") == "LEFT" else ">>"
    c.out(f"{c.x(0)} {op} {c.x(1)}")


def _variadic(fn: str):
    def handler(c: NodeCtx) -> None:
        xs = [c.x(i) for i in range(c.n_in) if c.has(i)]
        if len(xs) == 1:
            c.out(f"{xs[0]}.clone()" if fn != "mean" else f"{xs[0]}.clone()")
            return
        if fn in ("+", "mean"):
            expr = " + ".join(xs)
            if fn == "mean":
                expr = f"({expr}) / {len(xs)}"
            c.out(expr)
            return
        expr = xs[0]
        for x in xs[1:]:
            expr = f"{fn}({expr}, {x})"
        c.out(expr)
    return handler


register("Sum")(_variadic("+"))
register("Mean")(_variadic("mean"))
register("Max")(_widen(_variadic("torch.maximum")))
register("Min")(_widen(_variadic("torch.minimum")))
register("Div")(_widen(div))
register("Mod")(_widen(mod))
register("BitShift", since=11)(_widen(bitshift))

_UNARY = {
    "Abs": "torch.abs({})", "Neg": "-{}", "Exp": "torch.exp({})", "Log": "torch.log({})", "Sqrt": "torch.sqrt({})",
    "Reciprocal": "torch.reciprocal({})", "Floor": "torch.floor({})", "Ceil": "torch.ceil({})",
    "Round": "torch.round({})", "Sin": "torch.sin({})", "Cos": "torch.cos({})", "Tan": "torch.tan({})",
    "Asin": "torch.asin({})", "Acos": "torch.acos({})", "Atan": "torch.atan({})", "Sinh": "torch.sinh({})",
    "Cosh": "torch.cosh({})", "Asinh": "torch.asinh({})", "Acosh": "torch.acosh({})", "Atanh": "torch.atanh({})",
    "Erf": "torch.erf({})", "Sign": "torch.sign({})", "Not": "torch.logical_not({})",
    "IsNaN": "torch.isnan({})", "BitwiseNot": "torch.bitwise_not({})",
}


def _unary(template: str):
    def handler(c: NodeCtx) -> None:
        c.out(template.format(c.x(0)))
    return handler


for _op, _tpl in _UNARY.items():
    register(_op)(_widen(_unary(_tpl)) if _op == "BitwiseNot" else _unary(_tpl))


@register("IsInf", since=10)
def isinf(c: NodeCtx) -> None:
    pos, neg = c.attr("detect_positive", 1), c.attr("detect_negative", 1)
    x = c.x(0)
    if pos and neg:
        c.out(f"torch.isinf({x})")
    elif pos:
        c.out(f"torch.isposinf({x})")
    elif neg:
        c.out(f"torch.isneginf({x})")
    else:
        c.out(f"torch.zeros_like({x}, dtype=torch.bool)")


@register("Where")
def where(c: NodeCtx) -> None:
    a = operand(c, 1, 2) if c.scalar(1) is not None and c.rank(2) is not None and c.rank(2) >= max(c.rank(1), c.rank(0) or 0) else c.x(1)
    b = operand(c, 2, 1) if c.scalar(2) is not None and c.rank(1) is not None and c.rank(1) >= max(c.rank(2), c.rank(0) or 0) else c.x(2)
    if _is_lit(a) and _is_lit(b):
        a = c.x(1)
    c.out(f"torch.where({c.x(0)}, {a}, {b})")

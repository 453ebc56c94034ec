"""The Kubernetes CEL quantity library (`quantity("1Gi").isLessThan(...)`) for cel-python.

Values are exact (Fractions), parsed as resource.ParseQuantity does: an optionally
signed decimal number, then a binary suffix (Ki..Ei), a decimal suffix (n u m k M G T
P E) or an exponent (e3, E-2). Functions: quantity, isQuantity, and the members
isLessThan, isGreaterThan, compareTo, sign, isInteger, asInteger, asApproximateFloat,
add, sub (kube-apiserver's library.Quantity).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from celpy import celtypes
from celpy.evaluation import CELEvalError

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_FORM = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][+-]?[0-9]+|[A-Za-z]*)$")
_INVALID = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


class Quantity(celtypes.StringType):
    """A quantity (its text, as cel-go prints it) with its exact value."""

    value: Fraction

    def __init__(self, text: str) -> None:
        super().__init__()
        self.value = parse(text)


def parse(text: str) -> Fraction:
    m = _FORM.match(text.strip())
    if not m:
        raise ValueError(_INVALID)
    number, suffix = Fraction(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * Fraction(1024) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Fraction(10) ** _DECIMAL[suffix]
    if suffix[:1] in ("e", "E"):
        return number * Fraction(10) ** int(suffix[1:])
    raise ValueError(_INVALID)


def _q(value: Any) -> Quantity:
    if isinstance(value, Quantity):
        return value
    raise TypeError(f"no such overload: {type(value).__name__}")


def quantity(text: Any) -> Any:
    try:
        return Quantity(str(text))
    except ValueError as e:
        return CELEvalError(str(e), ValueError, None)


def is_quantity(text: Any) -> celtypes.BoolType:
    try:
        parse(str(text))
    except ValueError:
        return celtypes.BoolType(False)
    return celtypes.BoolType(True)


def _compare(a: Any, b: Any) -> int:
    x, y = _q(a).value, _q(b).value
    return (x > y) - (x < y)


def _from(value: Fraction) -> Quantity:
    text = str(value.numerator) if value.denominator == 1 else f"{float(value)}"
    return Quantity(text)


def _add(a: Any, b: Any) -> Quantity:
    other = b.value if isinstance(b, Quantity) else Fraction(int(b))
    return _from(_q(a).value + other)


def _sub(a: Any, b: Any) -> Quantity:
    other = b.value if isinstance(b, Quantity) else Fraction(int(b))
    return _from(_q(a).value - other)


def _as_integer(a: Any) -> Any:
    v = _q(a).value
    if v.denominator != 1 or not -(2**63) <= v.numerator < 2**63:
        return CELEvalError("cannot convert value to integer", ValueError, None)
    return celtypes.IntType(v.numerator)


FUNCTIONS: dict[str, Any] = {
    "quantity": quantity,
    "isQuantity": is_quantity,
    "isLessThan": lambda a, b: celtypes.BoolType(_compare(a, b) < 0),
    "isGreaterThan": lambda a, b: celtypes.BoolType(_compare(a, b) > 0),
    "compareTo": lambda a, b: celtypes.IntType(_compare(a, b)),
    "sign": lambda a: celtypes.IntType((_q(a).value > 0) - (_q(a).value < 0)),
    "isInteger": lambda a: celtypes.BoolType(
        _q(a).value.denominator == 1 and -(2**63) <= _q(a).value.numerator < 2**63
    ),
    "asInteger": _as_integer,
    "asApproximateFloat": lambda a: celtypes.DoubleType(float(_q(a).value)),
    "add": _add,
    "sub": _sub,
}

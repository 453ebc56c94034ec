"""The Kubernetes CEL quantity library (`quantity("1Gi").isLessThan(...)`) for cel-python.

Values are exact Decimals (zenith_operator.quantity, the operator's own parser).
Functions: quantity, isQuantity, and the members isLessThan, isGreaterThan,
compareTo, sign, isInteger, asInteger, asApproximateFloat, add, sub (kube-apiserver's
library.Quantity).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from celpy import celtypes
from celpy.evaluation import CELEvalError

from zenith_operator.quantity import parse_quantity

_INVALID = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


class Quantity(celtypes.StringType):
    """A quantity (its text) with its exact value."""

    value: Decimal

    def __init__(self, text: str) -> None:
        super().__init__()
        self.value = parse(text)


def parse(text: str) -> Decimal:
    try:
        return parse_quantity(text.strip())
    except ValueError:
        raise ValueError(_INVALID) from None


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


def _from(value: Decimal) -> Quantity:
    return Quantity(str(value.normalize()) if value != value.to_integral() else str(int(value)))


def _add(a: Any, b: Any) -> Quantity:
    other = b.value if isinstance(b, Quantity) else Decimal(int(b))
    return _from(_q(a).value + other)


def _sub(a: Any, b: Any) -> Quantity:
    other = b.value if isinstance(b, Quantity) else Decimal(int(b))
    return _from(_q(a).value - other)


def _as_integer(a: Any) -> Any:
    v = _q(a).value
    if v != v.to_integral() or not -(2**63) <= v < 2**63:
        return CELEvalError("cannot convert value to integer", ValueError, None)
    return celtypes.IntType(int(v))


FUNCTIONS: dict[str, Any] = {
    "quantity": quantity,
    "isQuantity": is_quantity,
    "isLessThan": lambda a, b: celtypes.BoolType(_compare(a, b) < 0),
    "isGreaterThan": lambda a, b: celtypes.BoolType(_compare(a, b) > 0),
    "compareTo": lambda a, b: celtypes.IntType(_compare(a, b)),
    "sign": lambda a: celtypes.IntType((_q(a).value > 0) - (_q(a).value < 0)),
    "isInteger": lambda a: celtypes.BoolType(
        _q(a).value == _q(a).value.to_integral() and -(2**63) <= _q(a).value < 2**63
    ),
    "asInteger": _as_integer,
    "asApproximateFloat": lambda a: celtypes.DoubleType(float(_q(a).value)),
    "add": _add,
    "sub": _sub,
}

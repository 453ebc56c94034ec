"""Kubernetes resource.Quantity: one exact parser for the operator and the sandbox.

Grammar (k8s.io/apimachinery resource.Quantity): a signed decimal number (`1`, `1.5`,
`1.`, `.5`) followed by a binary suffix (Ki..Ei), a decimal suffix (n u m "" k M G T P
E) or a decimal exponent (`e3`, `E-2`). Values are exact `Decimal`s, so `999999Ei` or
`1e900` compare correctly instead of overflowing a float.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, localcontext

QUANTITY_RE = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
MAX_EXPONENT = 2**31 - 1  # the API server keeps the exponent in an int32


def parse_quantity(value: int | str) -> Decimal:
    """The exact value of a quantity; ValueError when Kubernetes would refuse it."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    match = QUANTITY_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a quantity")
    number, suffix = Decimal(match.group(1)), match.group(2) or ""
    digits = len(match.group(1))
    with localcontext(Context(prec=digits + 40, Emax=999999999999999999, Emin=-999999999999999999)):
        if suffix in _BINARY:
            return number * Decimal(2 ** _BINARY[suffix])
        if suffix in _DECIMAL:
            return number.scaleb(_DECIMAL[suffix])
        exponent = int(suffix[1:])
        if abs(exponent) > MAX_EXPONENT:
            raise ValueError(f"{value!r}: exponent out of range")
        return number.scaleb(exponent)


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True

"""The one quantity parser: exact, total over Kubernetes' grammar, ValueError otherwise."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zenith_operator.quantity import is_quantity, parse_quantity

SUFFIXES = {
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30),
    "Ti": Fraction(2**40), "Pi": Fraction(2**50), "Ei": Fraction(2**60),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
}  # fmt: skip


@st.composite
def quantities(draw: st.DrawFn) -> tuple[str, Fraction]:
    sign = draw(st.sampled_from(["", "+", "-"]))
    whole = draw(st.text("0123456789", min_size=0, max_size=25))
    frac = draw(st.one_of(st.none(), st.text("0123456789", min_size=0, max_size=12)))
    if not whole and not frac:
        whole = "0"
    number = whole + ("" if frac is None else "." + frac)
    value = Fraction(whole or "0") + (Fraction(f"0.{frac}") if frac else 0)
    if draw(st.booleans()):
        exp = draw(st.integers(-40, 40))
        text = f"{number}{draw(st.sampled_from('eE'))}{exp}"
        value *= Fraction(10) ** exp
    else:
        suffix = draw(st.sampled_from(sorted(SUFFIXES)))
        text, value = number + suffix, value * SUFFIXES[suffix]
    return sign + text, -value if sign == "-" else value


@settings(derandomize=True, max_examples=400)
@given(quantities())
@example(("999999Ei", Fraction(999999 * 2**60)))
@example(("100m", Fraction(1, 10)))
@example(("1.", Fraction(1)))
@example((".5Gi", Fraction(2**29)))
def test_every_kubernetes_quantity_parses_exactly(case: tuple[str, Fraction]) -> None:
    text, value = case
    assert Fraction(parse_quantity(text)) == value


@settings(derandomize=True, max_examples=400)
@given(st.text(max_size=30))
@example("five gigs")
@example("1.2.3")
@example("Gi")
@example("1 Gi")
@example("1e")
def test_anything_else_is_a_value_error_never_a_crash(text: str) -> None:
    try:
        parse_quantity(text)
    except ValueError:
        assert not is_quantity(text)


def test_huge_exponents_stay_exact_without_blowing_up() -> None:
    assert parse_quantity("1e2147483647") > parse_quantity("999999Ei")
    with pytest.raises(ValueError):
        parse_quantity("1e2147483648")
    assert parse_quantity(7) == Decimal(7)
    with pytest.raises(ValueError):
        parse_quantity(True)

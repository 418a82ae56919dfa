"""How figures read on the page: durations with a unit, rates as percentages, counts with separators."""

import math
from typing import Union

import pandas as pd

NONE_SHOWN = "–"
SECONDS_PER_UNIT = (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0))

Number = Union[int, float, None]


def _missing(value: Number) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def seconds(value: Number) -> str:
    """A duration in the largest unit it fills, one decimal: `42.0 s`, `7.3 min`, `2.1 h`, `3.4 d`."""
    if _missing(value):
        return NONE_SHOWN
    amount = float(value)  # type: ignore[arg-type]
    for unit, size in SECONDS_PER_UNIT:
        if abs(amount) >= size:
            return f"{amount / size:.1f} {unit}"
    return f"{amount:.1f} s"


def percent(part: Number, whole: Number) -> str:
    """`part / whole` as `72.3%`; a dash when there is nothing to divide by."""
    if _missing(part) or _missing(whole) or not whole:
        return NONE_SHOWN
    return f"{100.0 * float(part) / float(whole):.1f}%"  # type: ignore[arg-type]


def ratios(part: pd.Series, whole: pd.Series) -> pd.Series:
    """`part / whole` row by row, as floats for charts; NaN where `whole` is zero."""
    return part.astype(float) / whole.astype(float).where(whole != 0)


def count(value: Number) -> str:
    """An integer with thousands separators: `20,000`."""
    if _missing(value):
        return "0"
    return f"{int(value):,}"  # type: ignore[arg-type]

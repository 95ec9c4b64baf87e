"""Age bands written as ``"lo-hi"`` (both inclusive) or ``"lo+"`` (open), and the arithmetic between them.

Modules receive different bandings (5-year from living-population feeds, 10-year from older files, the
isolation module's mix); every view that groups them — 10-year bands, "65 and over" — is derived here, so
the same definition serves every module.
"""

from __future__ import annotations

from collections.abc import Iterable

OLDER_AGE = 65  # "older people": 65 and over, the statistics office's and the welfare law's line

FIVE_YEAR = (*(f"{a}-{a + 4}" for a in range(0, 85, 5)), "85+")
TEN_YEAR = (*(f"{a}-{a + 9}" for a in range(0, 70, 10)), "70+")


def bounds(band: str) -> tuple[int, int | None]:
    """``(lower, upper)`` of a band, both inclusive; ``upper`` is None for an open band (``"85+"``)."""
    if band.endswith("+"):
        return int(band[:-1]), None
    lo, hi = band.split("-")
    return int(lo), int(hi)


def lower(band: str) -> int:
    return bounds(band)[0]


def contains(outer: str, inner: str) -> bool:
    """Whether every age of ``inner`` lies in ``outer``."""
    olo, ohi = bounds(outer)
    ilo, ihi = bounds(inner)
    if ilo < olo:
        return False
    if ohi is None:
        return True
    return ihi is not None and ihi <= ohi


def coarsen(band: str, targets: Iterable[str]) -> str | None:
    """The band of ``targets`` holding all of ``band`` (``"75-79"`` in 10-year bands is ``"70+"``), or None
    when ``band`` straddles two of them."""
    for target in targets:
        if contains(target, band):
            return target
    return None


def from_age(bands: Iterable[str], min_age: int) -> list[str]:
    """The bands whose every age is at least ``min_age`` (65 -> 65-69, 70-74, …)."""
    return [b for b in bands if lower(b) >= min_age]


def is_older(band: str, min_age: int = OLDER_AGE) -> bool | None:
    """True if the whole band is ``min_age`` or over, False if all of it is under, None if it straddles
    the line (``"60-69"`` cannot say how many are 65 and over)."""
    lo, hi = bounds(band)
    if lo >= min_age:
        return True
    if hi is not None and hi < min_age:
        return False
    return None

"""Korean business registration numbers (사업자등록번호): ten digits, the last a check digit."""

from __future__ import annotations

import random
from functools import lru_cache

WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def brn_check_digit(head: str) -> int:
    """The check digit of the first nine digits."""
    total = sum(int(d) * w for d, w in zip(head, WEIGHTS, strict=True))
    total += int(head[8]) * 5 // 10
    return (10 - total % 10) % 10


@lru_cache(maxsize=65_536)  # batches repeat the same merchants month after month
def brn_is_valid(digits: str) -> bool:
    """Korean business registration number (사업자등록번호) check digit."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    return brn_check_digit(digits[:9]) == int(digits[9])


def normalise_brn(value: str) -> str:
    """Digits only (``123-45-67890`` -> ``1234567890``); ValueError when the check digit fails."""
    digits = value.replace("-", "")
    if not brn_is_valid(digits):
        raise ValueError("The business registration number fails its check digit")
    return digits


def format_brn(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def random_brn(rng: random.Random) -> str:
    """A valid number for generated data."""
    head = f"{rng.randint(101, 999)}{rng.randint(1, 99):02d}{rng.randint(0, 9999):04d}"
    return head + str(brn_check_digit(head))

"""The first name not taken: an exported address, a document's key, an environment variable, a deposed object's
row. A leaf module: state and the kinds both use it."""
from __future__ import annotations

from typing import Callable, Container


def first_unused(taken: Container[str], first: str, numbered: Callable[[int], str]) -> str:
    """`first`, or else `numbered(2)`, `numbered(3)`...: the first of them not in `taken`."""
    chosen, number = first, 2
    while chosen in taken:
        chosen, number = numbered(number), number + 1
    return chosen

"""Regular expressions compiled on their first use, for the module-level patterns that only some runs need (a moved
block's address, a selector, an error's masking, a markdown view). Compiling one costs 20-900 µs; the provisioner's
modules compiled some 60 as they were imported, and a plan or an apply of a small fleet used fewer than half.

`PATTERN = LazyPattern(r"...")` is used as the re.Pattern it stands for (`PATTERN.fullmatch(text)`,
`PATTERN.pattern`); not for re's functions (`re.sub(PATTERN, ...)`) nor isinstance checks."""
from __future__ import annotations

import functools
import re
from typing import Any


class LazyPattern:
    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self._pattern, self._flags = pattern, flags

    @functools.cached_property
    def compiled(self) -> re.Pattern:
        return re.compile(self._pattern, self._flags)

    def __getattr__(self, name: str) -> Any:
        # Only for what the instance does not hold yet: the compiled pattern's attribute (a bound method) is kept,
        # so later uses read it as a plain attribute, as fast as the re.Pattern's own.
        value = getattr(self.compiled, name)
        setattr(self, name, value)
        return value

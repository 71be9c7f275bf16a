"""The platform's answers read as JSON: what `json.loads` reads, several times faster.

A no-change plan of 10,000 assistants decodes about 15 MB of list pages, and the standard library's decoder was
a tenth of its CPU. orjson (a Rust decoder, kept up to date for every CPython release) reads the same text to the
same values, except for the texts below, which go to `json.loads` instead, so that an answer means exactly what
it meant before:

- an integer beyond 64 bits becomes a float in orjson (an id of 2**64 would be read as 1.8446744073709552e+19):
  a text with a run of 19 digits or more (anywhere, in a string too) is read by json.loads, which keeps it exact;
- NaN, Infinity and numbers beyond a double, a byte-order mark, UTF-16 or UTF-32, lone surrogates: orjson
  refuses them, json.loads reads them (or refuses them) as before.
"""
from __future__ import annotations

import json
from typing import Any

import orjson

# Every digit as "0", every other byte as a space: a run of 19 digits is then one bytes.find, in C (a regular
# expression's [0-9]{19} tried at each digit took four times orjson's own time on a list page).
_DIGITS_AS_ZEROS = bytes(b"0"[0] if b"0"[0] <= byte <= b"9"[0] else b" "[0] for byte in range(256))
_LONG_RUN = b"0" * 19


def loads(raw: bytes) -> Any:
    """`json.loads(raw)`, the same value or the same error class (ValueError, RecursionError)."""
    if raw.translate(_DIGITS_AS_ZEROS).find(_LONG_RUN) < 0:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)

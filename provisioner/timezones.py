"""IANA time zone names: whether a manifest's `timezone` is one, without listing every zone of the system.

`zoneinfo.available_timezones()` reads tzdata's list of zones, then opens every file under the system's zoneinfo
directories to look for more (about 0.03 s of CPU, in every run whose manifests set a timezone). Every name on
tzdata's list is in its answer (bar `posixrules`, which it drops), so a name found there is known at the cost of
reading that one file; any other name is decided by the full listing, as before: the same answer either way, and
the same suggestions for a name that is not a zone.
"""
from __future__ import annotations

import functools
import importlib.util
import os


@functools.cache
def iana_timezones() -> frozenset[str]:
    """Every zone name the system knows: `zoneinfo.available_timezones()`."""
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def is_iana_timezone(name: str) -> bool:
    """Whether `name` is in iana_timezones(), read from tzdata's list alone when the name is on it."""
    return (name in _tzdata_zones() and name != "posixrules") or name in iana_timezones()


@functools.cache
def _tzdata_zones() -> frozenset[str]:
    """The names of tzdata's `zones` file, as available_timezones() reads them; none if it cannot be found here."""
    try:
        spec = importlib.util.find_spec("tzdata")
        folders = list(spec.submodule_search_locations or ()) if spec else []
        for folder in folders:
            path = os.path.join(folder, "zones")
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as lines:
                    return frozenset(zone for zone in (line.strip() for line in lines) if zone)
    except (ImportError, OSError, ValueError):  # no tzdata, or not one that is a folder of files
        pass
    return frozenset()

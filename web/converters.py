"""URL converters the app installs in place of Werkzeug's defaults.

`int` is replaced app-wide, so every `<int:...>` path parameter, in any blueprint, present or
future, is an SQLite row id: ASCII digits only (Werkzeug's `\\d` also takes '١' or '²'), and within
SQLite's signed 64-bit range. Anything else is simply no such URL, a 404, instead of an
OverflowError (500) when the value reaches a query.
"""

from __future__ import annotations

import builtins

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

__all__ = ["SQLITE_MAX_INTEGER", "RowIdConverter", "install"]

SQLITE_MAX_INTEGER = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """`<int:x>` limited to what an SQLite INTEGER can hold; `min`/`max`/`signed` still apply."""

    regex = r"[0-9]{1,19}"

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ) -> None:
        # The parameter names are Werkzeug's (`<int(min=1):x>`), hence builtins for the functions.
        lowest, highest = -SQLITE_MAX_INTEGER - 1, SQLITE_MAX_INTEGER
        min = lowest if min is None else builtins.max(min, lowest)
        max = highest if max is None else builtins.min(max, highest)
        super().__init__(map, fixed_digits, min=min, max=max, signed=signed)


def install(app: Flask) -> None:
    """Call before any blueprint is registered: rules bind their converters when added."""
    app.url_map.converters["int"] = RowIdConverter

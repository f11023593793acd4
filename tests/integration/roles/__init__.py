"""Route decisions of services and read models, one module each, merged into the role matrix
(tests/integration/test_role_matrix.py): a module here defines `MATRIX` (same keys and values
as the matrix's own table) and may define `PATH_VALUES` for the path parameters it adds.

A module per service or read model lets the engineer who adds the routes write their
decisions beside them, without everyone editing one table.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def extensions() -> list[Any]:
    """Every module of this package, in name order."""
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
    ]

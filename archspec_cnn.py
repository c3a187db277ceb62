"""The `archspec` command's entry point; it sits outside the `archspec` package on purpose.

The distribution is `archspec-cnn`, but the import package is `archspec`, a name that the
system-architecture library on PyPI (a dependency of conda and Spack) uses too, along with an
`archspec` command of its own. When Python finds that package first, this module still runs,
notices, and says what to do (exit 2) instead of failing with an AttributeError.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DISTRIBUTION = "archspec-cnn"
EXIT_INPUT = 2
# This project's archspec/__init__.py imports it from archspec.distribution.
DISTRIBUTION_MARK = "from archspec.distribution import DISTRIBUTION"


def foreign_archspec() -> str | None:
    """Why the `archspec` package Python finds is not this project's, or None if it is.

    Decided from the files, without importing ours: an import error inside this project is a
    bug to report as such, not a sign of the other package.
    """
    spec = importlib.util.find_spec("archspec")
    locations = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    if any(_is_ours(location) for location in locations):
        return None
    if spec is None:
        return (
            "archspec: error: the 'archspec' package is missing from this environment\n"
            f"  fix: reinstall it: pip install --force-reinstall {DISTRIBUTION}\n"
        )
    where = spec.origin or ", ".join(map(str, locations)) or "an unknown location"
    return _explain(f"version {_version_of_other()}, at {where}")


def _is_ours(location: Path) -> bool:
    """This project's package: its own modules, under its own `__init__.py` (the other one
    installs `__init__.py`, `cli.py` and `__main__.py` over ours, or ours over its)."""
    init = location / "__init__.py"
    return (
        (location / "api.py").is_file()
        and init.is_file()
        and DISTRIBUTION_MARK in init.read_text(encoding="utf-8", errors="replace")
    )


def _version_of_other() -> str:
    try:
        import archspec  # noqa: PLC0415 - the other project's: a one-line __init__.py
    except Exception:  # its import failing is no reason to hide the advice
        return "unknown"
    return str(getattr(archspec, "__version__", "unknown"))


def _explain(found: str) -> str:
    return (
        f"archspec: error: the 'archspec' package that Python imports ({found}) is not"
        f" {DISTRIBUTION}'s.\n  It is most likely the system-architecture library 'archspec'"
        f" that conda and Spack use; it shares the import name with {DISTRIBUTION}.\n"
        f"  fix: install {DISTRIBUTION} in a virtual environment of its own, not in conda's"
        f" base: python3 -m venv .venv && .venv/bin/pip install {DISTRIBUTION}\n"
    )


def main() -> None:
    problem = foreign_archspec()
    if problem is not None:
        sys.stderr.write(problem)
        sys.exit(EXIT_INPUT)
    from archspec.cli import main as cli_main  # noqa: PLC0415 - only once it is known to be ours

    cli_main()


if __name__ == "__main__":
    main()

"""The `archspec` command's entry point; it sits outside the `archspec` package on purpose.

The distribution is `archspec-cnn`, but the import package is `archspec`, a name that the
system-architecture library on PyPI (a dependency of conda and Spack) uses too, along with an
`archspec` command of its own. When Python finds that package first, this module still runs,
notices, and says what to do (exit 2) instead of failing with an AttributeError.
"""

from __future__ import annotations

import sys

DISTRIBUTION = "archspec-cnn"
EXIT_INPUT = 2


def foreign_archspec() -> str | None:
    """Why the `archspec` package Python imports is not this project's, or None if it is."""
    try:
        import archspec  # noqa: PLC0415 - the check is the import itself
    except ImportError as exc:
        return _explain("cannot be imported", str(exc))
    if getattr(archspec, "DISTRIBUTION", None) == DISTRIBUTION:
        return None
    version = getattr(archspec, "__version__", "unknown")
    where = getattr(archspec, "__file__", None) or "an unknown location"
    return _explain(f"is another project's (version {version}, at {where})", "")


def _explain(what: str, detail: str) -> str:
    return (
        f"archspec: error: the 'archspec' package that Python imports {what}"
        + (f": {detail}" if detail else "")
        + ".\n  It is most likely the system-architecture library 'archspec' that conda and"
        f" Spack use; it shares the import name with {DISTRIBUTION}.\n"
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

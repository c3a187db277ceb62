"""The distribution's name and version, single-sourced from the installed package metadata.

The distribution is `archspec-cnn` (the name `archspec` on PyPI is another project, the
system-architecture library); the import package stays `archspec`.
"""

from __future__ import annotations

from functools import cache

DISTRIBUTION = "archspec-cnn"
# A checkout that was never installed has no metadata; PEP 440 local version for "unknown".
UNKNOWN = "0+unknown"


@cache
def version() -> str:
    from importlib import metadata  # noqa: PLC0415 - 25 ms of start-up, only for --version

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN

"""Numbers as people read them in tables: 25.56 M parameters, 4.09 G MACs, 97.5 MiB."""

from __future__ import annotations

_DECIMAL = (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3))
_BINARY = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def count_text(value: int) -> str:
    """Two decimals with an SI suffix: 25557032 -> 25.56 M, 4089184256 -> 4.09 G; below
    1,000 the number itself."""
    return _scaled(value, _DECIMAL, "{:.2f} {}", str(value))


def bytes_text(value: int) -> str:
    """One decimal with an IEC suffix: 102236128 -> 97.5 MiB; below 1 KiB, N B."""
    return _scaled(value, _BINARY, "{:.1f} {}", f"{value} B")


def _scaled(value: int, units: tuple[tuple[str, int], ...], pattern: str, small: str) -> str:
    for suffix, size in units:
        if abs(value) >= size:
            return pattern.format(value / size, suffix)
    return small

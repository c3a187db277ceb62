"""Lowering: a validated Spec becomes an ArchGraph."""

from archspec.lower.errors import LowerError
from archspec.lower.model import STAGE_LOWERINGS, lower

__all__ = ["STAGE_LOWERINGS", "LowerError", "lower"]

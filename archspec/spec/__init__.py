"""Spec language: YAML source, pydantic models, loading with located errors."""

from archspec.spec.load import LoadedSpec, parse_spec, read_spec
from archspec.spec.models import Spec

__all__ = ["LoadedSpec", "Spec", "parse_spec", "read_spec"]

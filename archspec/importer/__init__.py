"""`archspec import`: an nn.Module becomes a spec, proven equal (or an honest verdict).

Recognition reads structure (children's names, classes, conv geometry), never constructor
arguments; values derived by rounding are fitted from candidates, and the analytic state_dict of
each candidate spec is compared with the model's before the fidelity check runs on CPU. Needs
torch (and timm for timm sources); build/stats never import this package.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from archspec.api import compile_text
from archspec.errors import SpecError
from archspec.importer.errors import BadModel, NotImportable, SourceError
from archspec.importer.recognise import recogniser
from archspec.importer.source import Source, load_model, parse_source
from archspec.importer.verify import first_difference, model_shapes, spec_shapes, verify
from archspec.importer.writer import spec_name, spec_text

__all__ = [
    "BadModel",
    "ImportResult",
    "NotImportable",
    "SourceError",
    "import_model",
    "import_source",
]

EXACT, NOT_EXACT, NOT_IMPORTABLE = "exact", "imported, not exact", "not importable"
# Candidates tried per model (each is a compile, milliseconds).
MAX_CANDIDATES = 32
# A model past these is refused as input (BadModel): no spec is that large (archspec's own
# limits stop far below), and reading and proving it would take the machine's memory.
MAX_MODULES = 20_000
MAX_PARAMETERS = 4_000_000_000
DEFAULT_INPUT = [3, 224, 224]


@dataclass(frozen=True)
class ImportResult:
    """The verdict, its reason ('' when exact) and the spec text (None when not importable)."""

    name: str
    verdict: str
    reason: str = ""
    spec: str | None = None
    layout: str = ""

    @property
    def line(self) -> str:
        return self.verdict if not self.reason else f"{self.verdict}: {self.reason}"

    @property
    def exact(self) -> bool:
        return self.verdict == EXACT


def import_source(text: str) -> ImportResult:
    """Load SOURCE (SourceError when it gives no model) and import it."""
    source = parse_source(text)
    return import_model(load_model(source), source)


def import_model(model: Any, source: Source, *, check: bool = True) -> ImportResult:
    """Recognise `model`, pick the candidate spec whose state_dict it has, and verify it on
    CPU (`check=False`: shapes only, for meta-device models)."""
    name = spec_name(source.model_name)
    _check_size(model)
    try:
        layout, read = recogniser(model)
        text, difference = _choose(model, read(model), _header(model, source, name))
    except BadModel:
        raise
    except NotImportable as exc:
        return ImportResult(name, NOT_IMPORTABLE, str(exc))
    if not difference and check:
        difference = verify(model, text)
    if difference:
        return ImportResult(name, NOT_EXACT, difference, text, layout)
    return ImportResult(name, EXACT, "", text, layout)


def _check_size(model: Any) -> None:
    """Refuse a model too large to import, before reading it (BadModel: exit 2)."""
    modules = sum(1 for _ in model.modules())
    if modules > MAX_MODULES:
        message = f"has {modules:,} modules; archspec imports at most {MAX_MODULES:,}"
        raise BadModel("", message)
    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMETERS:
        message = f"has {params:,} parameters; archspec imports at most {MAX_PARAMETERS:,}"
        raise BadModel("", message)


def _header(model: Any, source: Source, name: str) -> dict[str, Any]:
    size = (
        getattr(model, "pretrained_cfg", {}).get("input_size") if source.library == "timm" else None
    )
    shape = list(size) if isinstance(size, tuple | list) and len(size) == 3 else DEFAULT_INPUT
    return {"archspec": 1, "name": name, "reference": source.reference, "input": shape}


def _choose(model: Any, bodies: Any, header: dict[str, Any]) -> tuple[str, str]:
    """(spec text, first difference) of the first candidate whose analytic state_dict equals the
    model's; else the first candidate and its difference."""
    wanted = model_shapes(model)
    first: tuple[str, str] | None = None
    for body in itertools.islice(bodies, MAX_CANDIDATES):
        text = spec_text({**header, **body})
        try:
            difference = first_difference(wanted, spec_shapes(compile_text(text, "<import>")))
        except SpecError as exc:
            difference = f"the spec does not compile: {str(exc).splitlines()[0]}"
        if not difference:
            return text, ""
        first = first or (text, difference)
    if first is None:
        raise NotImportable("", "no candidate spec")
    return first

"""`archspec import --survey timm|torchvision`: import every CNN of a library and tabulate the
verdicts. Each model is built once, on the meta device (no memory, no init); only a model whose
candidate spec has its state_dict is materialised on CPU with random weights and verified at the
small check input. Huge models are skipped with a reason; a failing model is a row, never a crash.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from archspec.importer import EXACT, NOT_EXACT, NOT_IMPORTABLE, BadModel, import_model
from archspec.importer.source import Source
from archspec.importer.verify import verify

# The families whose networks archspec's zoo covers; the survey ranks every model in them.
TIMM_FAMILIES = (
    "resnetv2", "resnetrs", "resnest", "resnext", "resnet", "seresnext", "seresnet",
    "ecaresnext", "ecaresnet", "skresnext", "skresnet", "wide_resnet", "densenet", "regnet",
    "mobilenetv2", "mobilenetv3", "efficientnet", "vgg", "convnext",
    # TensorFlow ports ('same' padding): surveyed so that their verdict says why not.
    "tf_efficientnet", "tf_mobilenetv3",
)  # fmt: skip
# Verification is skipped above this many parameters (CPU time and memory on small machines);
# ConvNeXt-L, the largest model of a supported torchvision family but RegNet-Y 128GF, has 198 M.
MAX_PARAMS = 200_000_000
SKIPPED = "skipped"


@dataclass(frozen=True)
class SurveyRow:
    model: str
    family: str
    verdict: str
    reason: str
    seconds: float

    @property
    def line(self) -> str:
        return f"{self.verdict}: {self.reason}" if self.reason else self.verdict


def family(name: str, library: str) -> str:
    if library == "timm":
        return next((f for f in TIMM_FAMILIES if name.startswith(f)), "")
    # resnet50 -> resnet, regnet_x_400mf -> regnet, vgg11_bn -> vgg, mnasnet0_5 -> mnasnet
    base = name.split("_", maxsplit=1)[0].rstrip("0123456789")
    return "wide_resnet" if name.startswith("wide_resnet") else base


def model_names(library: str) -> list[str]:
    if library == "timm":
        import timm  # noqa: PLC0415

        return [n for n in timm.list_models() if family(n, library)]
    torchvision = importlib.import_module("torchvision")  # untyped: no stubs

    return sorted(torchvision.models.list_models(module=torchvision.models))


def run_survey(
    library: str, *, limit: int | None = None, names: list[str] | None = None
) -> Iterator[SurveyRow]:
    chosen = names if names is not None else model_names(library)
    for name in chosen[:limit] if limit else chosen:
        start = time.perf_counter()
        verdict, reason = _one(library, name)
        yield SurveyRow(name, family(name, library), verdict, reason, time.perf_counter() - start)


def _one(library: str, name: str) -> tuple[str, str]:
    source = Source(f"{library}:{name}", library, name, "")
    try:
        model = _build(library, name)
    except Exception as exc:  # a library model that does not build is a row, not a crash
        return NOT_IMPORTABLE, f"does not build: {type(exc).__name__}: {exc}"
    try:
        result = import_model(model, source, check=False)
        if not result.exact or result.spec is None:
            return result.verdict, result.reason
        params = sum(p.numel() for p in model.parameters())
        if params > MAX_PARAMS:
            over = f"over {MAX_PARAMS // 10**6} M"
            return SKIPPED, f"{params / 1e6:.0f} M params: shapes match, not run ({over})"
        difference = verify(_materialise(model), result.spec)
    except BadModel as exc:  # untraceable or too large: a row like any refusal
        return NOT_IMPORTABLE, str(exc).removeprefix("error: ")
    except Exception as exc:  # report and go on with the next model
        return "error", f"{type(exc).__name__}: {exc}"
    return (NOT_EXACT, difference) if difference else (EXACT, "")


def _build(library: str, name: str) -> Any:
    """The model on the meta device; on CPU with initialisation skipped where its builder
    computes on tensors (torchvision's RegNet quantises its widths with torch ops)."""
    import torch  # noqa: PLC0415

    try:
        with torch.device("meta"):
            return _build_on(library, name)
    except NotImplementedError:
        with _no_init():
            return _build_on(library, name)


def _build_on(library: str, name: str) -> Any:
    if library == "timm":
        import timm  # noqa: PLC0415

        return timm.create_model(name, pretrained=False).eval()
    torchvision = importlib.import_module("torchvision")  # untyped: no stubs

    return torchvision.models.get_model(name, weights=None).eval()


@contextlib.contextmanager
def _no_init() -> Iterator[None]:
    """torch.nn.init's in-place initialisers as no-ops (the weights are replaced anyway)."""
    import torch  # noqa: PLC0415

    init = torch.nn.init
    saved = {n: f for n, f in vars(init).items() if n.endswith("_") and not n.startswith("_")}
    try:
        for n in saved:
            setattr(init, n, _keep)
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def _keep(tensor: Any, *_args: Any, **_kwargs: Any) -> Any:
    return tensor


def _materialise(model: Any) -> Any:
    """The meta model on CPU with seeded random weights (fan-in scaled, so deep nets stay finite);
    verify() randomises the BN statistics."""
    import torch  # noqa: PLC0415

    model = model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in) * 0.5)
        for b in model.buffers():
            b.zero_()
    return model


def summary(library: str, rows: list[SurveyRow]) -> list[str]:
    """A line per family, then 'N of M <library> CNN models import exactly'."""
    total, exact = (
        Counter(r.family for r in rows),
        Counter(r.family for r in rows if r.verdict == EXACT),
    )
    lines = [f"{f or 'other'}: {exact[f]} of {n} exact" for f, n in sorted(total.items())]
    lines.append(f"{sum(exact.values())} of {len(rows)} {library} CNN models import exactly")
    return lines


def table_csv(rows: list[SurveyRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "family", "verdict", "reason", "seconds"])
    for r in rows:
        writer.writerow([r.model, r.family, r.verdict, r.reason, f"{r.seconds:.2f}"])
    return buffer.getvalue()


__all__ = ["NOT_EXACT", "SurveyRow", "run_survey", "summary", "table_csv"]

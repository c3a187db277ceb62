"""Loading SOURCE into an nn.Module: `torchvision:NAME`, `timm:NAME`, `path/file.py:factory` or
`package.module:factory`. The last two import and call the user's code, exactly as importing it
would. Every failure is a SourceError naming the source and the Python frame; never a traceback.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspec.importer.errors import SourceError


@dataclass(frozen=True)
class Source:
    """A parsed SOURCE argument."""

    text: str
    library: str  # torchvision | timm | file | module
    target: str  # model name, file path or module name
    factory: str  # callable name ('' for library models)

    @property
    def model_name(self) -> str:
        return self.target if self.library in ("torchvision", "timm") else self.factory

    @property
    def reference(self) -> str:
        if self.library == "torchvision":
            return f"torchvision.models.{self.target}"
        if self.library == "timm":
            return f"timm.models.{self.target}"
        return self.text


def parse_source(text: str) -> Source:
    library, sep, rest = text.partition(":")
    if not sep or not rest or not library:
        raise SourceError(
            text,
            "expected torchvision:NAME, timm:NAME, path/to/file.py:factory"
            " or package.module:factory",
        )
    if library in ("torchvision", "timm"):
        return Source(text, library, rest, "")
    if not rest.isidentifier():
        raise SourceError(text, f"'{rest}' is not a Python name (the factory to call)")
    kind = "file" if library.endswith(".py") else "module"
    return Source(text, kind, library, rest)


def load_model(source: Source, device: str = "cpu") -> Any:
    """Build the model (on `device`: cpu or meta) and check that it is an nn.Module."""
    import torch  # noqa: PLC0415 - import needs torch; build/stats do not

    factory = _factory(source)
    try:
        with torch.device(device):
            model = factory()
    except Exception as exc:  # the user's code: report where it failed, never a traceback
        raise SourceError(
            source.text, f"{_describe(source)} raised {_exc(exc)}", _frame(exc)
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise SourceError(
            source.text,
            f"{_describe(source)} returned {type(model).__name__}, not a torch.nn.Module",
        )
    return model.eval()


def _describe(source: Source) -> str:
    if source.library == "torchvision":
        return f"torchvision.models.get_model('{source.target}')"
    if source.library == "timm":
        return f"timm.create_model('{source.target}')"
    return f"{source.factory}()"


def _factory(source: Source) -> Any:
    if source.library == "torchvision":
        return _torchvision(source)
    if source.library == "timm":
        return _timm(source)
    module = _user_module(source)
    factory = getattr(module, source.factory, None)
    if factory is None:
        names = [n for n in vars(module) if not n.startswith("_")]
        raise SourceError(
            source.text, f"{source.target} has no '{source.factory}'{_hint(source.factory, names)}"
        )
    if not callable(factory):
        raise SourceError(
            source.text, f"'{source.factory}' is a {type(factory).__name__}, not a callable"
        )
    return factory


def _torchvision(source: Source) -> Any:
    torchvision = importlib.import_module("torchvision")  # untyped: no stubs

    names = torchvision.models.list_models(module=torchvision.models)
    if source.target not in names:
        raise SourceError(
            source.text,
            f"torchvision has no classification model '{source.target}'"
            + _hint(source.target, names),
        )
    return lambda: torchvision.models.get_model(source.target, weights=None)


def _timm(source: Source) -> Any:
    try:
        import timm  # noqa: PLC0415
    except ModuleNotFoundError:
        raise SourceError(source.text, "timm is not installed: pip install timm") from None
    if not timm.is_model(source.target):
        names = timm.list_models()
        raise SourceError(
            source.text, f"timm has no model '{source.target}'{_hint(source.target, names)}"
        )
    return lambda: timm.create_model(source.target, pretrained=False)


def _user_module(source: Source) -> Any:
    try:
        if source.library == "module":
            return importlib.import_module(source.target)
        path = Path(source.target)
        if not path.is_file():
            raise SourceError(source.text, f"no such file: {source.target}")
        name = f"archspec_import_{abs(hash(path.resolve()))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SourceError(source.text, f"{source.target} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    except SourceError:
        raise
    except ModuleNotFoundError as exc:
        raise SourceError(
            source.text, f"cannot import {exc.name or source.target}", _frame(exc)
        ) from None
    except Exception as exc:  # importing runs the user's code
        raise SourceError(
            source.text, f"importing {source.target} raised {_exc(exc)}", _frame(exc)
        ) from None


def _exc(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _frame(exc: BaseException) -> str:
    """`file:line in function` of the innermost frame outside archspec, where the user can look."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "/archspec/importer/" not in f.filename
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


def _hint(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""

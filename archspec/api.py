"""The Python API: what the CLI does, as functions (no printing, no exit codes)."""

from __future__ import annotations

import linecache
import os
import shlex
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from archspec.distribution import DISTRIBUTION
from archspec.emit.pytorch import emit_pytorch
from archspec.emit.source import doc_text
from archspec.errors import ArchspecError, SpecError
from archspec.ir.graph import ArchGraph
from archspec.lower import LowerError, lower
from archspec.passes import run_passes
from archspec.passes.shapes import ShapePassError
from archspec.spec import LoadedSpec, parse_spec, read_spec
from archspec.stats import Stats, compute_stats


class TorchMissingError(ArchspecError, ModuleNotFoundError):
    """torch is not installed; the message says which extra to install."""


@dataclass
class Compiled:
    """A spec taken through lowering and every analysis pass."""

    loaded: LoadedSpec
    arch: ArchGraph
    # The `--set key=value` overrides applied, as given; the generated header repeats them.
    overrides: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.loaded.spec.name

    @cached_property
    def stats(self) -> Stats:
        return compute_stats(self.arch)

    def source(self) -> str:
        """The generated PyTorch module file."""
        return emit_pytorch(self.arch, display_path(self.loaded.file), self._header())

    def _header(self) -> dict[str, Any]:
        totals = self.stats.totals
        c, h, w = self.arch.input_shape
        return {
            "title": self.arch.title or self.arch.name,
            "reference": self.arch.reference,
            "params": f"{totals.params:,}",
            "buffers": f"{totals.buffers:,}",
            "macs": f"{totals.macs:,}",
            "input": f"{c}x{h}x{w}",
            "overrides": [header_flag(text) for text in self.overrides],
        }

    def dot(
        self,
        level: str = "block",
        *,
        collapse: bool = True,
        rankdir: str = "TB",
        stages: str | None = None,
    ) -> str:
        """The Graphviz DOT text of the diagram at `level` (stage, block or layer); `collapse`
        draws a run of identical blocks once, `rankdir` "LR" lays it out left to right, and
        `stages` ("3..4", "2", "1,3") draws only those stages (StagesError if it names none)."""
        from archspec.emit.diagram_filter import stage_keys  # noqa: PLC0415 - diagrams only
        from archspec.emit.dot import emit_dot  # noqa: PLC0415

        keys = stage_keys(self.arch, stages) if stages is not None else None
        return emit_dot(self.arch, level, collapse=collapse, rankdir=rankdir, stages=keys)

    def to_module(self, **kwargs: Any) -> Any:
        """Import the generated source as a module and instantiate the model (needs torch).

        The source is registered with linecache under a module name so that inspect (and so
        torch.compile's and torch.export's error messages) can read it back.
        """
        try:
            module = import_source(self.source(), f"archspec_generated.{self.name}")
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            raise TorchMissingError(
                f"to_module() needs torch; install it with: pip install '{DISTRIBUTION}[torch]'",
                name="torch",
            ) from None
        return getattr(module, self.arch.class_name)(**kwargs)


# The regenerate command in a generated header is indented 4 spaces on a 100-column line.
MAX_HEADER_FLAG = 96


def header_flag(text: str) -> str:
    """`--set KEY=VALUE`, shell-quoted, as the generated header shows it."""
    return f"--set {shlex.quote(text)}"


def unrecordable(text: str) -> bool:
    """True when the header could not repeat this override verbatim (docstring text is
    printable ASCII without quotes or backslashes, within the line length)."""
    flag = header_flag(text)
    return doc_text(flag) != flag or len(flag) > MAX_HEADER_FLAG


def import_source(source: str, module_name: str) -> types.ModuleType:
    filename = f"<archspec>/{module_name.replace('.', '/')}.py"
    module = types.ModuleType(module_name)
    module.__file__ = filename
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    sys.modules[module_name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def display_path(file: str) -> str:
    """The spec path shown in generated headers: relative to cwd when inside it, else the name.

    Keeps output free of absolute paths (byte-identical wherever the checkout lives).
    """
    path = Path(file)
    if not path.is_absolute():
        return path.as_posix()
    try:
        return (
            Path(os.path.relpath(path)).as_posix()
            if path.is_relative_to(Path.cwd())
            else (path.name)
        )
    except ValueError:
        return path.name


def compile_loaded(loaded: LoadedSpec, overrides: Sequence[str] = ()) -> Compiled:
    try:
        arch = run_passes(lower(loaded.spec))
    except LowerError as exc:
        raise SpecError([loaded.issue(exc.loc, exc.message, exc.hint)]) from None
    except ShapePassError as exc:
        raise SpecError([_shape_issue(loaded, exc)]) from None
    return Compiled(loaded, arch, tuple(overrides))


def _shape_issue(loaded: LoadedSpec, exc: ShapePassError) -> Any:
    loc: tuple[str | int, ...] = ("input",)
    if exc.stage.startswith("stage"):
        loc = ("stages", int(exc.stage.removeprefix("stage")) - 1)
    if exc.origin is not None:
        # Error path only; archspec.blocks.library imports archspec.spec, which must load first.
        from archspec.blocks.located import step_issue  # noqa: PLC0415

        located = step_issue(loaded, exc.origin, f"at {exc.node} ({exc.stage}): {exc.message}")
        if located is not None:
            return located
    return loaded.issue(
        loc, f"at {exc.node}: {exc.message}", "use a larger `input` size, or fewer stride-2 stages"
    )


def compile_file(path: str | Path, overrides: Sequence[str] = ()) -> Compiled:
    """Load, validate, lower and analyse a spec file; raise SpecError with located issues.

    `overrides` are `key=value` texts, as `--set` takes them (see archspec.spec.overrides).
    """
    return compile_loaded(read_spec(path, overrides), overrides)


def compile_text(text: str, file: str = "<string>") -> Compiled:
    return compile_loaded(parse_spec(text, file))


def output_path(compiled: Compiled, out_dir: str | Path, suffix: str) -> Path:
    return Path(out_dir) / f"{compiled.name}{suffix}"

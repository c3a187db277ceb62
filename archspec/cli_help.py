"""Help screens that read like ruff's: `archspec stats [OPTIONS] SPEC...`, `--out DIR`, flags
without a type tag, choices as `[table|json|csv|markdown]`.

Typer prints `<bool>` beside flags, `<list[Path]>` beside arguments and `{specs}...` in the
usage line. These command classes swap in parameter classes that show metavars instead; they
are applied when the parameters are listed, so Typer's own options (--help, completion) get them
too. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typer import _click as click  # Typer vendors click: its parameter classes are these
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None

    @property
    def display_name_raw(self) -> str:
        name = self.metavar if self.metavar is not None else self.name.upper()
        return name + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return self.display_name_raw

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"


class _Option(TyperOption):
    def display_type_rich(self, ctx: click.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        described = self.type_descriptor
        if described.is_choice:
            return "[" + "|".join(str(choice) for choice in described.choices or ()) + "]"
        return self.name.upper() if self.name else None


def _polish(params: Sequence[click.Parameter]) -> None:
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option


class Command(TyperCommand):
    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        _polish(params)
        return params


class Group(TyperGroup):
    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        _polish(params)
        return params

    def get_command(self, ctx: click.Context, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if type(command) is TyperCommand:
            command.__class__ = Command
        return command

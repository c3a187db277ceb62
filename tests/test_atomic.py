"""Writes are atomic: a failed or interrupted build keeps the previous outputs and leaves no
temporary files; `--check` writes nothing; an unwritable `--out` is a clean error (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import archspec.files
from archspec.cli import app
from archspec.errors import OutputError
from archspec.files import write_atomic
from tests.conftest import GENERATED
from tests.hostile import assert_clean, assert_refused, build

OLD = b"# the previous build\n"
RESNET18 = "specs/resnet18.yaml"


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "model.py"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert listing(target.parent) == ["model.py"]
    assert target.stat().st_mode & 0o777 == 0o644


def _fail(*args: Any, **kwargs: Any) -> None:
    raise OSError(28, "No space left on device")


class _Interrupted(BaseException):
    """Stands in for KeyboardInterrupt / SystemExit arriving mid-write."""


def _interrupt(*args: Any, **kwargs: Any) -> None:
    raise _Interrupted


@pytest.mark.parametrize("where", ["os.replace", "os.fsync", "os.chmod"])
@pytest.mark.parametrize("error", [_fail, _interrupt])
def test_failed_write_keeps_the_old_file(
    where: str, error: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.py"
    target.write_bytes(OLD)
    monkeypatch.setattr(archspec.files.os, where.split(".")[1], error)
    expected = OutputError if error is _fail else _Interrupted
    with pytest.raises(expected):
        write_atomic(target, b"new content" * 1000)
    assert target.read_bytes() == OLD
    assert listing(tmp_path) == ["model.py"], "the temporary file is removed"


def test_write_interrupted_halfway_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data reaches the temporary file in part, then the write fails."""
    target = tmp_path / "model.py"
    target.write_bytes(OLD)
    real_open = open

    class HalfWriter:
        def __init__(self, fd: int, mode: str) -> None:
            self.handle = real_open(fd, mode)

        def __enter__(self) -> HalfWriter:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(archspec.files, "open", HalfWriter, raising=False)
    with pytest.raises(OutputError, match="Input/output error"):
        write_atomic(target, b"x" * 10_000)
    assert target.read_bytes() == OLD
    assert listing(tmp_path) == ["model.py"]


def test_failed_build_keeps_previous_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "resnet18.py").write_bytes(OLD)
    monkeypatch.setattr(archspec.files.os, "replace", _fail)
    outcome = build(RESNET18, out)
    assert_clean(outcome)
    assert outcome.result.exit_code == 2
    assert f"{out / 'resnet18.py'}: error: cannot write (No space left on device)" in (
        outcome.stderr
    )
    assert (out / "resnet18.py").read_bytes() == OLD
    assert listing(out) == ["resnet18.py"]


def test_a_bad_spec_among_good_ones_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("archspec: 1\nname: bad\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", RESNET18, str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists(), "specs are all compiled before anything is written"


def test_check_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = CliRunner().invoke(app, ["build", RESNET18, "--out", str(out), "--check"])
    assert missing.exit_code == 1 and not out.exists()
    out.mkdir()
    stale = out / "resnet18.py"
    stale.write_bytes(OLD)
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    result = CliRunner().invoke(app, ["build", RESNET18, "--out", str(out), "--check"])
    assert result.exit_code == 1
    assert stale.read_bytes() == OLD and stale.stat().st_mtime == 1_000_000_000
    assert listing(out) == ["resnet18.py"]
    stale.write_bytes((GENERATED / "resnet18.py").read_bytes())
    fresh = CliRunner().invoke(app, ["build", RESNET18, "--out", str(out), "--check"])
    assert fresh.exit_code == 0 and listing(out) == ["resnet18.py"]


def _assert_unwritable(out: Path) -> None:
    outcome = build(RESNET18, out)
    assert_clean(outcome)
    assert outcome.result.exit_code == 2, outcome.result.output
    assert "cannot write" in outcome.stderr
    assert ": error: cannot write" in outcome.stderr and "  fix: " in outcome.stderr


def test_out_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "file"
    out.write_bytes(OLD)
    _assert_unwritable(out)
    assert out.read_bytes() == OLD
    _assert_unwritable(out / "sub")
    assert "a file is in the way" in build(RESNET18, out / "sub").stderr


def test_target_is_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "resnet18.py").mkdir(parents=True)
    _assert_unwritable(out)
    assert listing(out) == ["resnet18.py"], "no temporary file is left behind"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_out_is_read_only(tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        _assert_unwritable(out)
        _assert_unwritable(out / "sub")
    finally:
        out.chmod(0o700)


def test_out_in_proc_is_refused_cleanly(tmp_path: Path) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc")
    _assert_unwritable(Path("/proc/self/archspec-out"))


def test_refused_spec_writes_nothing_even_when_out_exists(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "net.py").write_bytes(OLD)
    spec = tmp_path / "net.yaml"
    spec.write_text("archspec: 1\nname: net\ninput: [3, 32, 32]\nstages: {block: basic}\n")
    outcome = build(spec, out)
    assert outcome.result.exit_code == 2
    assert (out / "net.py").read_bytes() == OLD and listing(out) == ["net.py"]
    outcome.out = tmp_path / "elsewhere"  # assert_refused checks an untouched directory
    assert_refused(outcome, spec)

"""Spec text never becomes code: hostile titles, references, comments, names and paths.

For every hostile string the generated module parses, is ASCII, imports nothing but torch, has the
same AST as a clean build once string constants are blanked (so behaviour is unchanged), and the
whole batch passes `ruff check` and `ruff format --check` (one ruff run per batch, not per case).
Names are identifiers by pattern; the few identifiers that would shadow or break the generated
module (keywords, builtins, Tensor, FUSIBLE) are refused with a located message.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from archspec.api import compile_text
from archspec.cli import app
from archspec.errors import SpecError
from archspec.names import RESERVED_NAMES
from tests.conftest import ROOT
from tests.hostile import assert_built, assert_refused, build

BASE: dict[str, Any] = {
    "archspec": 1,
    "name": "net",
    "input": [3, 32, 32],
    "stem": {"type": "conv3x3", "width": 8},
    "stages": {
        "block": "bottleneck",
        "depth": [1, 1],
        "width": [8, 16],
        "attention": ["none", {"type": "se", "reduction": 4}],
    },
    "head": {"type": "classifier", "num_classes": 10},
}

HOSTILE_TEXT = {
    "double_quote": 'say "hi"',
    "ends_with_quote": 'ends with a quote"',
    "triple_double": 'a """ b',
    "triple_single": "a ''' b",
    "docstring_escape": '"""; import os; os.system("echo pwned"); """',
    "single_escape": "'''; import os; '''",
    "newlines": "line one\nimport os\nline three",
    "crlf": "one\r\ntwo\rthree",
    "backslashes": "C:\\new\\table \\N{BULLET} \\x41 \\",
    "trailing_backslash": "ends with \\",
    "hash": "# not a comment\n# noqa",
    "jinja_expr": "{{ 7 * 7 }} {{ config.__class__ }}",
    "jinja_block": "{% for x in range(3) %}loop{% endfor %} {# c #} {%- raw %}",
    "jinja_close": "{% endraw %}}}{{",
    "rtl_override": "safe\u202e)(metsys.so\u202c",
    "bidi_isolates": "\u2066abc\u2069 \u2067def\u2069 \u2068g\u2069",
    "zero_width": "zero\u200bwidth\u200d\ufeffjoin",
    "line_separator": "one\u2028two\u2029three\x85four",
    "combining": "Re\u0301sume\u0301 n\u0303",
    "cjk_wide": "\u6df1\u5ea6\u6b8b\u5dee\u5b66\u4e60" * 14,
    "emoji": "\U0001f680 " * 50,
    "confusables": "ResNeXt\u201350 (32\u00d74d) \u201cquoted\u201d \u0405\u0430 \u2139 \uff12",
    "control_chars": "bell\x07 tab\t vt\x0b ff\x0c esc\x1b[2J del\x7f",
    "long_words": "x" * 300,
    "long_text": "word " * 100,
    "only_spaces": "   \t  ",
    "dot_only": ".",
    "unicode_escape": "\\u0022\\u0022\\u0022",
    "python_fstring": "{__import__('os').system('id')}",
}
FIELDS = ("title", "reference")


def spec_yaml(**fields: Any) -> str:
    return yaml.safe_dump({**BASE, **fields}, sort_keys=False, allow_unicode=True, width=1000)


def shape(source: str, model: str = "Net") -> str:
    """The module's AST with every string constant blanked and the model class called Model:
    docstrings, literals and the class name aside, the program is the same."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
        elif isinstance(node, ast.ClassDef) and node.name == model:
            node.name = "Model"
        elif isinstance(node, ast.Name) and node.id == model:
            node.id = "Model"
    return ast.dump(tree)


def imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
        elif isinstance(node, ast.Name) and node.id in ("__import__", "exec", "eval", "open"):
            names.add(node.id)
    return names


CLEAN = compile_text(spec_yaml(title="Clean", reference="Clean")).source()


def test_clean_build_imports_only_torch() -> None:
    assert imports(CLEAN) == {"torch"}


@pytest.fixture(scope="module")
def hostile_sources() -> dict[str, str]:
    """Every hostile string as title and as reference, plus all of them as YAML comments."""
    sources = {}
    for name, text in HOSTILE_TEXT.items():
        for field in FIELDS:
            sources[f"{field}_{name}"] = compile_text(spec_yaml(**{field: text})).source()
    # Control characters cannot appear in YAML at all, not even in comments (see test_fuzz).
    allowed = yaml.reader.Reader.NON_PRINTABLE
    commented = "".join(
        f"# {line}\n"
        for text in HOSTILE_TEXT.values()
        for line in text.splitlines()
        if not allowed.search(line)
    )
    sources["comments"] = compile_text(commented + spec_yaml() + commented).source()
    return sources


@pytest.mark.parametrize("case", [f"{f}_{n}" for n in HOSTILE_TEXT for f in FIELDS])
def test_hostile_text_changes_no_code(case: str, hostile_sources: dict[str, str]) -> None:
    source = hostile_sources[case]
    assert source.isascii(), "generated files are ASCII (no bidi tricks or look-alikes)"
    assert imports(source) == {"torch"}
    assert shape(source) == shape(CLEAN)


def test_hostile_text_keeps_its_words(hostile_sources: dict[str, str]) -> None:
    """Sanitising keeps the text readable rather than dropping it."""
    assert "{{ 7 * 7 }}" in hostile_sources["title_jinja_expr"]
    assert "'''; import os; '''" in hostile_sources["title_single_escape"]
    assert "ResNeXt-50 (32x4d) 'quoted'" in hostile_sources["title_confusables"]
    assert "Resume n" in hostile_sources["reference_combining"]
    assert "<U+6DF1>" in hostile_sources["title_cjk_wide"]


def test_yaml_comments_do_not_reach_the_code(hostile_sources: dict[str, str]) -> None:
    assert hostile_sources["comments"] == compile_text(spec_yaml()).source()


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    config = str(ROOT / "pyproject.toml")
    return subprocess.run(
        [ruff, *args, "--config", config, "--no-cache"], capture_output=True, text=True, check=False
    )


def test_hostile_builds_pass_ruff(hostile_sources: dict[str, str], tmp_path: Path) -> None:
    for name, source in hostile_sources.items():
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    check = _ruff("check", str(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr
    formatted = _ruff("format", "--check", str(tmp_path))
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


# --- spec paths end up in the header --------------------------------------------------------------

HOSTILE_FILE_NAMES = [
    'quote"s.yaml',
    "triple'''\"\"\".yaml",
    "new\nline import os.yaml",
    "back\\slash.yaml",
    "{{ 7 * 7 }}.yaml",
    "\u202eright-to-left.yaml",
    "space d.yaml",
]


@pytest.mark.parametrize("file_name", HOSTILE_FILE_NAMES)
def test_hostile_spec_path_is_sanitised(file_name: str, tmp_path: Path) -> None:
    spec = tmp_path / file_name
    spec.write_text(spec_yaml())
    written = assert_built(build(spec, tmp_path / "out"))
    source = written.read_text(encoding="utf-8")
    assert source.isascii() and imports(source) == {"torch"}
    assert shape(source) == shape(CLEAN)


# --- names are identifiers that cannot shadow what the generated module uses -------------------

SHADOWING = [
    "None",
    "True",
    "False",
    "Tensor",
    "FUSIBLE",
    "Exception",
    "BaseException",
    "ValueError",
    "NotImplemented",
    "Ellipsis",
]


def test_reserved_names_cover_keywords_builtins_and_module_globals() -> None:
    capitalised = {n for n in (*keyword.kwlist, *dir(builtins)) if n[:1].isupper()}
    assert capitalised <= RESERVED_NAMES
    assert {"Tensor", "FUSIBLE", "torch", "nn"} <= RESERVED_NAMES


@pytest.mark.parametrize("class_name", SHADOWING)
def test_shadowing_class_name_is_refused(class_name: str, tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text(spec_yaml(class_name=class_name))
    outcome = build(spec, tmp_path / "out")
    assert_refused(outcome, spec)
    located = rf"{re.escape(str(spec))}:\d+:\d+: error: class_name: '{class_name}' is a Python"
    assert re.search(located, outcome.stderr), outcome.stderr


@pytest.mark.parametrize("name", ["none", "tensor", "exception", "value_error"])
def test_name_giving_a_shadowing_class_name_is_refused(name: str, tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text(spec_yaml(name=name))
    outcome = build(spec, tmp_path / "out")
    assert_refused(outcome, spec)
    assert "error: name: gives the class name" in outcome.stderr
    assert "set `class_name:` to another name" in outcome.stderr


@pytest.mark.parametrize(
    "class_name", ["torch", "nn", "x", "self", "class", "A-B", "A B", "1Net", "Net()", "__init__"]
)
def test_non_class_identifiers_are_refused_by_pattern(class_name: str) -> None:
    with pytest.raises(SpecError, match=r"class_name: .* is not a valid name"):
        compile_text(spec_yaml(class_name=class_name))


@pytest.mark.parametrize("name", ["torch", "nn", "x", "self", "os", "import", "class_", "sys"])
def test_lowercase_python_names_are_safe_model_names(name: str) -> None:
    """`name` only becomes a file name and a capitalised class name (Torch, Nn, Import...)."""
    compiled = compile_text(spec_yaml(name=name))
    source = compiled.source()
    assert imports(source) == {"torch"}
    assert shape(source, compiled.arch.class_name) == shape(CLEAN)


@pytest.mark.parametrize(
    "class_name", ["Bottleneck", "SqueezeExcite", "BasicBlock", "ConvNormAct", "DenseBlock"]
)
def test_class_name_equal_to_a_block_class_renames_the_block(class_name: str) -> None:
    torch = pytest.importorskip("torch")
    compiled = compile_text(spec_yaml(class_name=class_name))
    source = compiled.source()
    assert source.count(f"class {class_name}(") == 1
    model = compiled.to_module().eval()
    assert type(model).__name__ == class_name
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_python_tags_are_refused(tmp_path: Path) -> None:
    for i, tag in enumerate(
        [
            "!!python/object/apply:os.system ['echo pwned']",
            "!!python/object/new:subprocess.Popen [['id']]",
            "!!python/name:os.system",
            "!!python/module:os",
            "!!python/object:argparse.Namespace {}",
        ]
    ):
        spec = tmp_path / f"tag{i}.yaml"
        spec.write_text(spec_yaml().replace("name: net", f"name: {tag}"))
        outcome = build(spec, tmp_path / "out")
        assert_refused(outcome, spec)
        assert "is not allowed" in outcome.stderr


def test_validate_and_stats_survive_hostile_titles(tmp_path: Path) -> None:
    specs = []
    for i, text in enumerate(HOSTILE_TEXT.values()):
        spec = tmp_path / f"t{i}.yaml"
        spec.write_text(spec_yaml(title=text, reference=text), encoding="utf-8")
        specs.append(str(spec))
    for args in (["validate"], ["stats", "--format", "json"], ["stats", "--format", "csv"]):
        result = CliRunner().invoke(app, [*args, *specs])
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout


@pytest.mark.parametrize(
    "name",
    list(HOSTILE_TEXT),
)
def test_hostile_title_in_diagrams(name: str, tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text(spec_yaml(title=HOSTILE_TEXT[name]), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["diagram", str(spec), "--out", str(out), "--format", "svg"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["net.dot", "net.svg"]
    dot = (out / "net.dot").read_text(encoding="utf-8")
    assert dot.isascii() and "\x1b" not in dot


def test_long_spec_path_keeps_the_header_within_the_line_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = Path("specs_for_the_detection_team") / "backbones" / "resnet_variant.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(spec_yaml())
    written = assert_built(build(spec, Path("out")))
    check = _ruff("check", str(written))
    assert check.returncode == 0, check.stdout

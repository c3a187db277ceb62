"""Fuzzing invalid input through the real CLI: exit 2, a located message, no traceback, no output.

Three sources, all seeded and bounded:
- HOSTILE: hand-written cases of every kind issue 6 names (malformed YAML, wrong types,
  negative/zero/huge numbers, mismatched lists, unknown and duplicate keys, deep nesting, alias
  bombs, non-UTF-8 bytes, empty files, directories, Python tags);
- mutations of the zoo specs (line, token and byte edits from a fixed seed): each either builds a
  module that parses or is refused under the contract above;
- tests/fuzz_corpus/refused/: every case that once failed, replayed; each must be refused with
  the message its `# expect:` lines name.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPECS
from tests.hostile import assert_built, assert_clean, assert_refused, build

CORPUS = ROOT / "tests" / "fuzz_corpus"
SEED = 6
MUTATIONS = 1500 * int(os.environ.get("ARCHSPEC_FUZZ_SCALE", "1"))
# Error output stays small whatever the input (10 issues, long lines cut to a window).
MAX_STDERR = 8_000

SPEC = """archspec: 1
name: net
input: [3, 32, 32]
stem: {type: conv3x3, width: 16}
stages:
  block: bottleneck
  depth: [1, 1]
  width: [8, 16]
head: {type: classifier, num_classes: 10}
"""


def _replace(old: str, new: str) -> bytes:
    assert old in SPEC, old
    return SPEC.replace(old, new, 1).encode()


def _laughs(levels: int) -> bytes:
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    return (SPEC + text).encode()


HOSTILE: dict[str, bytes] = {
    # empty and not-a-spec documents
    "empty": b"",
    "blank_lines": b"\n\n   \n",
    "comment_only": b"# just a comment\n",
    "bare_scalar": b"42\n",
    "bare_list": b"- archspec: 1\n- name: net\n",
    "null_document": b"~\n",
    "two_documents": SPEC.encode() + b"---\n" + SPEC.encode(),
    "yaml_2_directive": b"%YAML 2.0\n---\n" + SPEC.encode(),
    # malformed YAML
    "unclosed_flow_list": _replace("[8, 16]", "[8, 16"),
    "unclosed_flow_map": _replace("width: 16}", "width: 16"),
    "unclosed_quote": _replace("name: net", 'name: "net'),
    "bad_indentation": _replace("  depth: [1, 1]", "     depth: [1, 1]\n  width: 3"),
    "tab_indentation": _replace("  depth", "\tdepth"),
    "value_colon_value": _replace("name: net", "name: net: other"),
    "stray_brackets": _replace("name: net", "name: ]["),
    "list_in_mapping": _replace("  block: bottleneck", "  - block: bottleneck"),
    "undefined_alias": _replace("name: net", "name: *nothing"),
    "recursive_alias": b"a: &a [*a]\n" + SPEC.encode(),
    "anchor_as_key": _replace("name: net", "&k name: net\n*k : again"),
    # wrong types
    "version_string": _replace("archspec: 1", 'archspec: "1"'),
    "version_two": _replace("archspec: 1", "archspec: 2"),
    "name_number": _replace("name: net", "name: 123"),
    "name_bool_yes": _replace("name: net", "name: yes"),
    "name_list": _replace("name: net", "name: [a, b]"),
    "input_text": _replace("[3, 32, 32]", "3x32x32"),
    "input_two": _replace("[3, 32, 32]", "[3, 32]"),
    "input_four": _replace("[3, 32, 32]", "[3, 32, 32, 1]"),
    "input_float": _replace("[3, 32, 32]", "[3, 32.5, 32]"),
    "input_nan": _replace("[3, 32, 32]", "[3, .nan, 32]"),
    "stages_number": _replace("stages:\n  block: bottleneck", "stages: 5\nx:\n  block: bottleneck"),
    "stages_rows_scalars": _replace(
        "stages:\n  block: bottleneck\n  depth: [1, 1]\n  width: [8, 16]", "stages: [1, 2]"
    ),
    "stages_empty_map": _replace(
        "stages:\n  block: bottleneck\n  depth: [1, 1]\n  width: [8, 16]", "stages: {}"
    ),
    "stages_empty_list": _replace(
        "stages:\n  block: bottleneck\n  depth: [1, 1]\n  width: [8, 16]", "stages: []"
    ),
    "depth_empty_list": _replace("depth: [1, 1]", "depth: []"),
    "depth_word": _replace("depth: [1, 1]", "depth: three"),
    "depth_float": _replace("depth: [1, 1]", "depth: [1.5, 1]"),
    "depth_bool": _replace("depth: [1, 1]", "depth: [true, 1]"),
    "width_mixed": _replace("[8, 16]", '[8, "x"]'),
    "stem_word": _replace("stem: {type: conv3x3, width: 16}", "stem: conv3x3"),
    "head_number": _replace("head: {type: classifier, num_classes: 10}", "head: 5"),
    "head_unknown_type": _replace("type: classifier", "type: detector"),
    "attention_word": _replace("  width: [8, 16]", "  width: [8, 16]\n  attention: se"),
    "attention_no_type": _replace("  width: [8, 16]", "  width: [8, 16]\n  attention: {r: 1}"),
    "outputs_scalar": _replace("head:", "outputs: stage1\nhead:"),
    "compression_word": _replace("bottleneck", "dense\n  compression: half").replace(
        b"  width: [8, 16]\n", b""
    ),
    # negative, zero and huge numbers
    "depth_zero": _replace("depth: [1, 1]", "depth: [0, 1]"),
    "depth_negative": _replace("depth: [1, 1]", "depth: [-1, 1]"),
    "depth_ten_million": _replace("depth: [1, 1]", "depth: [10000000, 1]"),
    "depth_10e30": _replace("depth: [1, 1]", "depth: [1000000000000000000000000000000, 1]"),
    "depth_over_budget": _replace("depth: [1, 1]", "depth: [10001, 10000]"),
    "depth_5000_stages": _replace("depth: [1, 1]", "depth: [" + ",".join(["1"] * 5000) + "]"),
    "width_zero": _replace("[8, 16]", "[0, 16]"),
    "width_negative": _replace("[8, 16]", "[-64, 16]"),
    "width_billion": _replace("[8, 16]", "[1000000000, 16]"),
    "groups_zero": _replace("  width: [8, 16]", "  width: [8, 16]\n  groups: 0"),
    "stride_zero": _replace("  width: [8, 16]", "  width: [8, 16]\n  stride: 0"),
    "stride_million": _replace("  width: [8, 16]", "  width: [8, 16]\n  stride: 1000000"),
    "dilation_zero": _replace("  width: [8, 16]", "  width: [8, 16]\n  dilation: 0"),
    "input_zero": _replace("[3, 32, 32]", "[3, 0, 32]"),
    "input_million_squared": _replace("[3, 32, 32]", "[3, 1000000, 1000000]"),
    "input_negative": _replace("[3, 32, 32]", "[-3, 32, 32]"),
    "input_too_small": _replace("[3, 32, 32]", "[3, 1, 1]")
    .replace(b"bottleneck", b"dense")
    .replace(b"  width: [8, 16]\n", b""),
    "num_classes_zero": _replace("num_classes: 10", "num_classes: 0"),
    "num_classes_huge": _replace("num_classes: 10", "num_classes: 1000000000000"),
    "se_reduction_zero": _replace(
        "  width: [8, 16]", "  width: [8, 16]\n  attention: {type: se, reduction: 0}"
    ),
    "split_radix_hundred": _replace(
        "  width: [8, 16]", "  width: [8, 16]\n  attention: {type: split, radix: 100}"
    ),
    "sk_branches_one": _replace(
        "  width: [8, 16]", "  width: [8, 16]\n  attention: {type: sk, branches: 1}"
    ),
    "sk_kernels_hundred": _replace(
        "  width: [8, 16]",
        "  width: [8, 16]\n  attention: {type: sk, kernels: [" + ", ".join(["3"] * 100) + "]}",
    ),
    "int_5000_digits": _replace("num_classes: 10", "num_classes: 1" + "0" * 5000),
    "float_overflow": _replace("num_classes: 10", "num_classes: 1e999"),
    # mismatched list lengths
    "width_longer": _replace("[8, 16]", "[8, 16, 32]"),
    "width_shorter": _replace("[8, 16]", "[8]"),
    "attention_list_short": _replace("  width: [8, 16]", "  width: [8, 16]\n  attention: [none]"),
    # unknown keys
    "unknown_top_key": _replace("name: net", "name: net\nstagess: 3"),
    "unknown_stage_key": _replace("  width: [8, 16]", "  width: [8, 16]\n  widht: 3"),
    "unknown_stem_key": _replace("width: 16}", "width: 16, kernel: 7}"),
    "unknown_head_key": _replace("num_classes: 10", "num_classes: 10, classes: 3"),
    "unknown_attention_key": _replace(
        "  width: [8, 16]", "  width: [8, 16]\n  attention: {type: se, ratio: 4}"
    ),
    "non_string_key": _replace("name: net", "name: net\n1: x"),
    "null_key": _replace("name: net", "name: net\n~: x"),
    "complex_key": _replace("name: net", "name: net\n? [a, b]\n: x"),
    # duplicate keys
    "duplicate_top_key": _replace("name: net", "name: net\nname: other"),
    "duplicate_stage_key": _replace("  depth: [1, 1]", "  depth: [1, 1]\n  depth: [2, 2]"),
    "duplicate_flow_key": _replace("width: 16}", "width: 16, width: 8}"),
    # deep nesting and alias bombs
    "flow_nesting_10000": _replace("conv3x3", "[" * 10000 + "]" * 10000),
    "block_nesting_400": SPEC.encode() + b"".join(b" " * i + b"k:\n" for i in range(400)),
    "mapping_nesting_70": _replace("conv3x3", "{a: " * 70 + "1" + "}" * 70),
    "billion_laughs": _laughs(9),
    "laughs_as_title": _laughs(6).replace(b"name: net", b"name: net\ntitle: *l6"),
    # bytes that are not UTF-8 text
    "latin1": _replace("name: net", "title: caf\xe9").decode().encode("latin-1"),
    "utf16": SPEC.encode("utf-16"),
    "lone_continuation_byte": SPEC.encode() + b"\x80\n",
    "overlong_encoding": SPEC.encode() + b"title: \xc0\xaf\n",
    "utf8_surrogate": SPEC.encode() + b"title: \xed\xa0\x80\n",
    "nul_byte": _replace("name: net", "name: n\x00et"),
    "escape_sequence": _replace("name: net", "name: net\ntitle: \x1b[2J"),
    "delete_char": _replace("name: net", "name: net\x7f"),
    "bom_then_garbage": b"\xef\xbb\xbf\xff\xfe",
    # YAML tags that construct objects
    "python_object_apply": _replace("conv3x3", "!!python/object/apply:os.system ['echo hi']"),
    "python_name": _replace("name: net", "name: !!python/name:os.system"),
    "python_object_new": _replace("name: net", "name: !!python/object/new:os.system [x]"),
    "python_tuple": _replace("[3, 32, 32]", "!!python/tuple [3, 32, 32]"),
    "binary": _replace("name: net", "name: !!binary aGVsbG8="),
    "timestamp": _replace("name: net", "name: 2001-12-14"),
    "set": _replace("name: net", "name: !!set {a, b}"),
    "omap": _replace("name: net", "name: !!omap [a: 1]"),
    "local_tag": _replace("archspec: 1", "archspec: !custom 1"),
    "merge_key": b"base: &b {block: basic}\n" + _replace("  block: bottleneck", "  <<: *b"),
    # names that would become (or break) code
    "name_path": _replace("name: net", "name: ../../etc/passwd"),
    "name_shell": _replace("name: net", "name: 'net; rm -rf /'"),
    "name_none": _replace("name: net", "name: none"),
    "name_upper": _replace("name: net", "name: Net"),
    "name_65_chars": _replace("name: net", "name: " + "n" * 65),
    "class_name_lower": _replace("name: net", "name: net\nclass_name: net"),
    "class_name_keyword": _replace("name: net", "name: net\nclass_name: 'True'"),
    "class_name_builtin": _replace("name: net", "name: net\nclass_name: Exception"),
    "class_name_tensor": _replace("name: net", "name: net\nclass_name: Tensor"),
    "class_name_dunder": _replace("name: net", "name: net\nclass_name: __import__"),
    "class_name_code": _replace("name: net", "name: net\nclass_name: 'A(nn.Module): pass #'"),
    "title_501_chars": _replace("name: net", "name: net\ntitle: " + "t" * 501),
    "taps_unknown": _replace("head:", "outputs: [stage9]\nhead:"),
    "taps_twice": _replace("head:", "outputs: [stem, stem]\nhead:"),
    "file_over_200kb": SPEC.encode() + b"# " + b"x" * 200_000 + b"\n",
    "nodes_over_10000": _replace("head:", "outputs: [" + ",".join(["stem"] * 10_001) + "]\nhead:"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_refused(name: str, tmp_path: Path) -> None:
    spec = tmp_path / f"{name}.yaml"
    spec.write_bytes(HOSTILE[name])
    outcome = build(spec, tmp_path / "out")
    assert_refused(outcome, spec)
    assert len(outcome.stderr) < MAX_STDERR


def test_directory_and_missing_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    for spec in (tmp_path / "dir.yaml", tmp_path / "missing.yaml"):
        assert_refused(build(spec, tmp_path / "out"), spec)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs and /dev/zero")
def test_devices_and_pipes_are_refused_without_reading(tmp_path: Path) -> None:
    """Was: /dev/zero was read until memory ran out, and a FIFO blocked forever."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for spec in (fifo, Path("/dev/zero"), Path("/dev/null")):
        outcome = build(spec, tmp_path / "out")
        assert_refused(outcome, spec)
        assert "is not a regular file" in outcome.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "secret.yaml"
    spec.write_text(SPEC)
    spec.chmod(0)
    assert_refused(build(spec, tmp_path / "out"), spec)


def test_the_template_spec_builds(tmp_path: Path) -> None:
    """The base every hostile case edits is itself valid (so each case tests its one edit)."""
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC)
    assert_built(build(spec, tmp_path / "out"))


# --- mutations of the zoo ------------------------------------------------------------------------

TOKEN = re.compile(r"-?\d+(\.\d+)?|[A-Za-z_][A-Za-z0-9_.]*|[\[\]{}:,#&*!|>'\"-]")
NUMBERS = ["0", "-1", "1", "2", "3", "7", "64", "100000", "10000000", "1" + "0" * 40, "3.5", "-0.0"]
WORDS = [
    "null", "true", "no", "~", "''", "[]", "{}", "none", "se", "sk", "split", "dense", "basic",
    "deep", "avg", "1x1", "stages", "depth", "width", "groups", "widht", "type", "&a", "*a",
    "!!python/object/apply:os.system", "!!binary", "'\\x00'", '"""', "{{ x }}", "#", ": :",
]  # fmt: skip


def _mutate(text: str, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        if not text.strip():  # truncated to nothing: nothing left to edit
            break
        text = rng.choice((_line_edit, _token_edit, _token_edit, _byte_edit))(text, rng)
    data = text.encode("utf-8", "surrogateescape")
    if rng.random() < 0.1:  # a raw byte: often invalid UTF-8
        cut = rng.randrange(len(data) + 1)
        data = data[:cut] + bytes([rng.randrange(256)]) + data[cut:]
    return data


def _line_edit(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    edit = rng.randrange(5)
    if edit == 0:
        del lines[i]
    elif edit == 1:
        lines.insert(j, lines[i])
    elif edit == 2:
        lines[i], lines[j] = lines[j], lines[i]
    elif edit == 3:
        lines[i] = " " * rng.choice((1, 2, 4)) + lines[i]
    else:
        lines[i] = lines[i].lstrip()
    return "\n".join(lines) + "\n"


def _token_edit(text: str, rng: random.Random) -> str:
    tokens = list(TOKEN.finditer(text))
    if not tokens:
        return text
    token = rng.choice(tokens)
    pool = NUMBERS if token.group()[0].isdigit() or token.group()[0] == "-" else WORDS
    new = rng.choice(pool + WORDS[:4] if rng.random() < 0.2 else pool)
    if rng.random() < 0.15:
        new = token.group() + rng.choice(",:[]{}")
    return text[: token.start()] + new + text[token.end() :]


def _byte_edit(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return text[: rng.randrange(len(text) + 1)]  # truncated file
    i = rng.randrange(len(text))
    return text[:i] + rng.choice("\t\n\r :#-[]{}'\"\\\x00\x1b\u2028\ufeff") + text[i + 1 :]


def _zoo_texts() -> list[tuple[str, str]]:
    return [(path.stem, path.read_text()) for path in sorted(SPECS.glob("*.yaml"))]


@pytest.mark.slow
def test_mutated_zoo_specs_build_or_are_refused(tmp_path: Path) -> None:
    """Seeded line/token/byte mutations of every zoo spec: a parsing module, or exit 2."""
    rng = random.Random(SEED)
    zoo = _zoo_texts()
    counts = {"built": 0, "refused": 0}
    for i in range(MUTATIONS):
        name, text = zoo[i % len(zoo)]
        spec = tmp_path / f"{i:04d}_{name}.yaml"
        spec.write_bytes(_mutate(text, rng))
        outcome = build(spec, tmp_path / f"out{i}")
        assert_clean(outcome)
        if outcome.result.exit_code == 0:
            assert_built(outcome)
            counts["built"] += 1
        else:
            assert_refused(outcome, spec, limit_s=2.0)
            assert len(outcome.stderr) < MAX_STDERR
            counts["refused"] += 1
    assert counts["refused"] > MUTATIONS // 2, counts  # most mutations break the spec
    assert counts["built"] > MUTATIONS // 20, counts  # and some keep it valid
    print(f"mutations: {counts}")


# --- the corpus of cases that once failed -------------------------------------------------------

REFUSED = sorted((CORPUS / "refused").glob("*.yaml"))


def expected_messages(case: Path) -> list[str]:
    """The `# expect: TEXT` lines at the top of a corpus file: text the error must contain."""
    lines = case.read_bytes().split(b"\n")
    return [line[len(b"# expect: ") :].decode() for line in lines if line.startswith(b"# expect: ")]


@pytest.mark.parametrize("case", REFUSED, ids=[case.stem for case in REFUSED])
def test_corpus_case_is_refused(case: Path, tmp_path: Path) -> None:
    outcome = build(case, tmp_path / "out")
    assert_refused(outcome, case)
    assert len(outcome.stderr) < MAX_STDERR
    for message in expected_messages(case):
        assert message in outcome.stderr, outcome.stderr


def test_corpus_is_kept() -> None:
    assert len(REFUSED) >= 10
    for case in REFUSED:
        assert case.read_bytes().startswith(b"# "), f"{case.name}: say what failed, in a comment"
    assert all(expected_messages(case) for case in REFUSED), "each case says what to expect"

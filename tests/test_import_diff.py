"""After import, editing the spec and `archspec diff` tell which pretrained tensors still load:
the model a person starts from (timm's resnet50d) imports exactly, they add SE to two stages and
widen the last one, and diff's verdicts agree tensor by tensor with what torch's
load_state_dict then does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from archspec.api import compile_file
from archspec.cli import app

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")
pytestmark = pytest.mark.slow


def test_import_edit_diff_says_what_loads(tmp_path: Path) -> None:
    from archspec.importer import import_source

    result = import_source("timm:resnet50d")
    assert result.exact, result.line
    assert result.spec is not None
    imported = tmp_path / "resnet50d.yaml"
    imported.write_text(result.spec)
    data = yaml.safe_load(result.spec)
    data["stages"]["attention"] = ["none", "none", {"type": "se"}, {"type": "se"}]
    data["stages"]["width"] = [64, 128, 256, 768]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data, sort_keys=False))

    out = CliRunner().invoke(app, ["diff", str(imported), str(edited), "-f", "json"])
    assert out.exit_code == 0, out.output
    diff = json.loads(out.output)
    unchanged, added = set(diff["unchanged"]), set(diff["added"])
    reshaped = {row[0] for row in diff["reshaped"]}  # (key, shape in a, shape in b)
    assert any(".se." in key for key in added) and not any(".se." in k for k in unchanged)
    assert reshaped and all(k.startswith(("layer4.", "fc.")) for k in reshaped)

    # What torch does with the pretrained weights agrees with diff, key by key.
    source = timm.create_model("resnet50d").state_dict()
    model = compile_file(edited).to_module()
    target = model.state_dict()
    loads = {k for k, v in source.items() if k in target and target[k].shape == v.shape}
    assert loads == unchanged
    assert {k for k in source if k in target} - loads == reshaped
    assert set(target) - set(source) == added
    fitting = {k: v for k, v in source.items() if k in loads}
    missing, unexpected = model.load_state_dict(fitting, strict=False)
    assert set(missing) == added | reshaped and not unexpected

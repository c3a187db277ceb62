"""JSON Schema for editors: the Spec model, with `stages` in both row and columnar form."""

from __future__ import annotations

import copy
from typing import Any

from archspec.spec.models import BUILTIN_ATTENTION, Spec


def json_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema()
    row = schema["$defs"]["StageRow"]
    columns: dict[str, Any] = {}
    for name, prop in row["properties"].items():
        one = copy.deepcopy(prop)
        columns[name] = {"anyOf": [one, {"type": "array", "items": one}]}
    schema["$defs"]["StageTable"] = {
        "type": "object",
        "description": "Columnar stage table: each list has one entry per stage; "
        "a scalar applies to all stages.",
        "properties": columns,
        "required": row.get("required", []),
        "additionalProperties": False,
    }
    stages = schema["properties"]["stages"]
    schema["properties"]["stages"] = {"anyOf": [stages, {"$ref": "#/$defs/StageTable"}]}
    # A design (regnet:) stands in for the stage table: one or the other.
    schema["required"] = [name for name in schema["required"] if name != "stages"]
    schema["oneOf"] = [{"required": ["stages"]}, {"required": ["regnet"]}]
    # A kind written as data may take any name but the built-in ones, which have schemas of
    # their own (else `oneOf` would match a built-in twice).
    block_type = schema["$defs"]["BlockAttention"]["properties"]["type"]
    block_type["not"] = {"enum": list(BUILTIN_ATTENTION)}
    head = schema["properties"]["head"]
    schema["properties"]["head"] = {"anyOf": [head, {"const": "none"}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "archspec spec (language v1)"
    return schema

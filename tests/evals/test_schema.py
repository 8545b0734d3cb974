"""BFCL schemas and names as OpenAI tools, and the data loader."""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import jsonschema
import pytest

from toolwire.evals.bfcl.data import (
    CATEGORIES, DATA_DIR_ENV, PACKAGE, PACKAGE_VERSION, available_categories, data_source, find_data_dir,
    load_category,
)
from toolwire.evals.bfcl.runner import EvalConfig, build_request, parse_calls
from toolwire.evals.bfcl.schema import ToolNames, convert_schema, json_type, openai_name, to_openai_tools


def test_type_names_map_to_json_schema():
    assert json_type("dict") == "object"
    assert json_type("float") == "number"
    assert json_type("tuple") == "array"
    assert json_type("any") == "string"
    assert json_type("integer") == "integer"
    assert json_type("boolean") == "boolean"
    assert json_type("string") == "string"
    # Java / JavaScript spellings
    assert json_type("String") == "string"
    assert json_type("HashMap") == "object"
    assert json_type("ArrayList") == "array"
    assert json_type("long") == "integer"
    assert json_type("double") == "number"
    assert json_type("Boolean") == "boolean"
    assert json_type("") == "string"


def test_conversion_is_recursive():
    bfcl = {
        "type": "dict",
        "properties": {
            "point": {"type": "tuple", "items": {"type": "float"}, "description": "x, y"},
            "meta": {"type": "dict", "properties": {
                "tags": {"type": "array", "items": {"type": "any"}},
                "extra": {"type": "dict", "additionalProperties": {"type": "float"}},
            }},
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a", "optional": True},
        },
        "required": ["point"],
    }
    converted = convert_schema(bfcl)
    assert converted == {
        "type": "object",
        "properties": {
            "point": {"type": "array", "items": {"type": "number"}, "description": "x, y"},
            "meta": {"type": "object", "properties": {
                "tags": {"type": "array", "items": {"type": "string"}},
                "extra": {"type": "object", "additionalProperties": {"type": "number"}},
            }},
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
        },
        "required": ["point"],
    }
    assert bfcl["type"] == "dict" and bfcl["properties"]["point"]["type"] == "tuple"  # input untouched


def test_names_with_dots_are_sent_with_underscores_and_mapped_back():
    assert openai_name("math.factorial") == "math_factorial"
    assert openai_name("a.b c/d") == "a_b_c_d"
    names = ToolNames(["math.factorial", "math.hypot", "plain"])
    assert names.sent == {"math.factorial": "math_factorial", "math.hypot": "math_hypot", "plain": "plain"}
    assert names.to_bfcl("math_factorial") == "math.factorial"
    assert names.to_bfcl("plain") == "plain"
    assert names.to_bfcl("math.factorial") == "math.factorial"  # a server echoing the dotted name
    assert names.to_bfcl("unknown_tool") == "unknown_tool"


def test_names_that_collide_stay_distinct():
    names = ToolNames(["a.b", "a_b"])
    assert sorted(names.sent.values()) == ["a_b", "a_b_2"]
    assert {names.to_bfcl(sent) for sent in names.sent.values()} == {"a.b", "a_b"}


def test_tools_carry_description_and_strict():
    functions = [{"name": "math.factorial", "description": "n!", "parameters": {
        "type": "dict", "properties": {"number": {"type": "integer"}}, "required": ["number"]}}]
    tools, _ = to_openai_tools(functions)
    assert tools == [{"type": "function", "function": {
        "name": "math_factorial", "description": "n!",
        "parameters": {"type": "object", "properties": {"number": {"type": "integer"}}, "required": ["number"]}}}]
    strict_tools, _ = to_openai_tools(functions, strict=True)
    assert strict_tools[0]["function"]["strict"] is True


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_converted_schema_is_valid_json_schema(category):
    for entry in load_category(find_data_dir(), category):
        tools, names = to_openai_tools(entry.functions)
        for tool in tools:
            name = tool["function"]["name"]
            assert len(name) <= 64 and all(c.isalnum() or c in "_-" for c in name), name
            jsonschema.Draft202012Validator.check_schema(tool["function"]["parameters"])
        assert len(set(names.sent.values())) == len(entry.functions)


def test_no_bfcl_type_name_survives_conversion():
    leftovers = set()

    def walk(schema):
        if isinstance(schema, dict):
            if isinstance(schema.get("type"), str) and schema["type"] not in (
                    "object", "number", "array", "string", "integer", "boolean"):
                leftovers.add(schema["type"])
            for key in ("properties",):
                for sub in (schema.get(key) or {}).values():
                    walk(sub)
            for key in ("items", "additionalProperties"):
                walk(schema.get(key))

    for category in CATEGORIES:
        for entry in load_category(find_data_dir(), category):
            for tool in to_openai_tools(entry.functions)[0]:
                walk(tool["function"]["parameters"])
    assert not leftovers


def test_loader_reads_first_turn_and_answers():
    entries = load_category(find_data_dir(), "simple_python", limit=3)
    assert [e.id for e in entries] == ["simple_python_0", "simple_python_1", "simple_python_2"]
    assert entries[0].messages[0]["role"] == "user"
    assert entries[1].functions[0]["name"] == "math.factorial"
    assert entries[1].ground_truth == [{"math.factorial": {"number": [5]}}]
    irrelevant = load_category(find_data_dir(), "irrelevance", limit=2)
    assert all(e.ground_truth is None and not e.expects_call for e in irrelevant)
    with pytest.raises(ValueError):
        load_category(find_data_dir(), "multi_turn_base")


def test_live_categories():
    data = find_data_dir()
    simple = load_category(data, "live_simple")
    assert all(len(e.ground_truth) == 1 for e in simple)
    with_system = [e for e in simple if e.messages[0]["role"] == "system"]
    assert with_system and all(e.messages[-1]["role"] == "user" for e in simple)
    assert any(len(e.ground_truth) > 1 for e in load_category(data, "live_parallel"))
    for category, expects_call in [("live_irrelevance", False), ("live_relevance", True)]:
        entries = load_category(data, category)
        assert entries and all(e.ground_truth is None and e.expects_call == expects_call for e in entries)
    # four live_irrelevance questions come with no functions at all: they are sent without tools
    bare = [e for e in load_category(data, "live_irrelevance") if not e.functions]
    body, _ = build_request(bare[0], EvalConfig(base_url="http://x/v1", model="m"))
    assert "tools" not in body and "tool_choice" not in body
    assert build_request(simple[0], EvalConfig(base_url="http://x/v1", model="m"))[0]["tool_choice"] == "required"


def test_install_script_pins_the_version_named_in_the_code():
    script = (Path(__file__).resolve().parents[2] / "scripts" / "install.sh").read_text()
    assert f'pip install --no-deps "{PACKAGE}=={PACKAGE_VERSION}"' in script


def test_data_comes_from_the_package(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    source = data_source()
    assert source.origin == f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"
    assert source.path == Path(importlib.metadata.distribution(PACKAGE).locate_file("bfcl_eval/data"))
    assert available_categories(source.path) == list(CATEGORIES)
    # a folder given on the command line or in the environment wins
    shutil.copy(source.path / "BFCL_v4_irrelevance.json", tmp_path)
    assert data_source(tmp_path) == type(source)(tmp_path, "--data-dir")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert data_source().path == tmp_path and data_source().origin == f"${DATA_DIR_ENV}"
    assert available_categories(tmp_path) == ["irrelevance"]
    assert load_category(find_data_dir(), "irrelevance", 1)[0].id == "irrelevance_0"


def test_schema_validity_of_reply_calls():
    functions = [{"name": "math.factorial", "parameters": {
        "type": "dict", "properties": {"number": {"type": "integer"}}, "required": ["number"]}}]
    tools, names = to_openai_tools(functions)

    def message(*calls):
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)]}

    calls, records, valid = parse_calls(message(("math_factorial", '{"number": 5}')), names, tools)
    assert valid and calls[0].name == "math.factorial" and calls[0].arguments == {"number": 5}
    assert records[0]["sent_name"] == "math_factorial"
    for bad in [("math_factorial", '{"number": "five"}'), ("math_factorial", "{}"),
                ("math_factorial", "{not json"), ("math_factorial", "[5]"), ("other_tool", '{"number": 5}')]:
        _, records, valid = parse_calls(message(bad), names, tools)
        assert not valid and records[0]["schema_problem"], bad
    # every call must be valid, and no call is not a valid call
    assert not parse_calls(message(("math_factorial", '{"number": 5}'), ("math_factorial", "{}")), names, tools)[2]
    assert not parse_calls({"role": "assistant", "content": "hi"}, names, tools)[2]

"""The in-process benchmark commands run and print their figures as JSON lines (no timing is
asserted: figures are for reading, not for passing)."""

from __future__ import annotations

import json

import pytest

from toolwire.cli import main as toolwire_main


def json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_bench_parsers_covers_every_family(capsys):
    from toolwire.formats.registry import registered_families

    names = [family.name for family in registered_families()]
    assert toolwire_main(["bench-parsers", "--sizes", "1,2", "--repeat", "1"]) == 0
    lines = json_lines(capsys)
    assert {(line["format"], line["payload_kb"]) for line in lines} == {(name, kb) for name in names for kb in (1, 2)}
    assert {"hermes", "mistral", "pythonic", "llama4_pythonic", "deepseekv31"} <= set(names)
    assert all(line["ms_per_kb"] > 0 and line["deltas"] > 0 for line in lines)


@pytest.mark.slow
def test_bench_engine_reports_each_level(capsys):
    code = toolwire_main(["bench-engine", "--concurrency", "1,3", "--max-tokens", "4", "--weights", "exact",
                          "--kv-cache-memory", "0.1"])
    assert code == 0
    lines = json_lines(capsys)
    assert (lines[0]["weights"]["decode"], lines[0]["weights"]["batch"]) == ("exact", "exact")
    levels = [line for line in lines if "concurrency" in line]
    assert [(line["concurrency"], line["output_tokens"]) for line in levels] == [(1, 4), (3, 12)]
    assert all(line["output_tokens_per_s"] > 0 for line in levels)
    assert lines[-1]["peak_rss_gib"] > 0

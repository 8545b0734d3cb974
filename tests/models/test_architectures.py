"""The architecture registry (toolwire/models/architectures.py) and the README's table of it."""

from __future__ import annotations

import re

from tests.server.helpers import REPO
from toolwire.models.architectures import all_architectures


def readme_table() -> dict[str, list[str]]:
    """The "Supported architectures" table: architecture -> its row's cells (backticks dropped)."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Supported architectures", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if re.match(r"\| `", line)]
    return {cells[0].strip().strip("`"): [cell.replace("`", "").strip() for cell in cells] for cells in rows}


def test_readme_table_lists_every_architecture_as_registered():
    """A row per registered architecture, with its HF model types, GGUF architectures and the real
    models it covers exactly as registered: the table cannot go stale."""
    table = readme_table()
    assert sorted(table) == sorted(arch.name for arch in all_architectures())
    for arch in all_architectures():
        _, model_types, gguf, covers, _ = table[arch.name]
        assert model_types.split(", ") == list(arch.hf_model_types), arch.name
        assert all(name in gguf.split(", ") for name in arch.gguf_architectures), arch.name
        assert covers == arch.covers, arch.name


def test_every_model_type_and_gguf_architecture_has_one_reader():
    model_types = [t for arch in all_architectures() for t in arch.hf_model_types]
    gguf = [g for arch in all_architectures() for g in arch.gguf_architectures]
    assert len(model_types) == len(set(model_types)) and len(gguf) == len(set(gguf))

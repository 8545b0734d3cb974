"""BFCL data files: one entry per line of `BFCL_v4_<category>.json`, its answer (when the category
has answers) from `possible_answer/BFCL_v4_<category>.json`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
    "irrelevance",
)
PARALLEL_CATEGORIES = frozenset({"parallel", "parallel_multiple"})
NO_CALL_CATEGORIES = frozenset({"irrelevance"})
DATA_DIR_ENV = "TOOLWIRE_BFCL_DIR"


@dataclass(frozen=True)
class BfclEntry:
    id: str
    category: str
    messages: list[dict[str, Any]]  # the first turn of `question`
    functions: list[dict[str, Any]]  # BFCL's own function documents (BFCL type names)
    ground_truth: list[dict[str, dict[str, list[Any]]]] | None  # None where no call is right

    @property
    def expects_call(self) -> bool:
        return self.category not in NO_CALL_CATEGORIES


def find_data_dir(start: Path | None = None) -> Path:
    """`$TOOLWIRE_BFCL_DIR`, else the first `shared/bfcl` beside the working directory or the
    package, or one of their parents (the repository root sits next to `shared/`)."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    here = Path(__file__).resolve()
    origins = [start or Path.cwd(), here.parent]
    for origin in origins:
        origin = origin.resolve()
        for folder in (origin, *origin.parents):
            candidate = folder / "shared" / "bfcl"
            if (candidate / "possible_answer").is_dir():
                return candidate
    raise FileNotFoundError("no shared/bfcl folder found next to the repository; pass --data-dir "
                            f"or set ${DATA_DIR_ENV}")


def load_category(data_dir: Path, category: str, limit: int | None = None) -> list[BfclEntry]:
    """The first `limit` entries of a category (all when None), in file order."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; known: {', '.join(CATEGORIES)}")
    questions = _read_lines(Path(data_dir) / f"BFCL_v4_{category}.json", limit)
    answers: dict[str, Any] = {}
    if category not in NO_CALL_CATEGORIES:
        answers = {row["id"]: row["ground_truth"] for row in
                   _read_lines(Path(data_dir) / "possible_answer" / f"BFCL_v4_{category}.json", None)}
    entries = []
    for row in questions:
        if category not in NO_CALL_CATEGORIES and row["id"] not in answers:
            raise ValueError(f"{category}: entry {row['id']} has no possible answer")
        entries.append(BfclEntry(
            id=row["id"], category=category, messages=list(row["question"][0]),
            functions=list(row["function"]), ground_truth=answers.get(row["id"]),
        ))
    return entries


def _read_lines(path: Path, limit: int | None) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(rows) >= limit:
                break
            if line.strip():
                rows.append(json.loads(line))
    return rows

"""BFCL data files: one entry per line of `BFCL_v4_<category>.json`, its answer (when the category
has answers) from `possible_answer/BFCL_v4_<category>.json`.

The files come from the `bfcl-eval` package (its `bfcl_eval/data/` folder, found through the
package's installed file list: importing `bfcl_eval` modules needs its heavy dependencies, reading
its data does not), unless a folder is given (`--data-dir`, or `$TOOLWIRE_BFCL_DIR`)."""

from __future__ import annotations

import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "bfcl-eval"
PACKAGE_VERSION = "2026.3.23"  # the version scripts/install.sh installs and the tests were run on
INSTALL_COMMAND = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
DATA_DIR_ENV = "TOOLWIRE_BFCL_DIR"

# The single-turn categories (one question, its functions, at most one answer); BFCL's multi-turn,
# memory, web_search and format_sensitivity categories are not run here.
CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
    "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
    "live_irrelevance", "live_relevance",
)
NO_CALL_CATEGORIES = frozenset({"irrelevance", "live_irrelevance"})  # right: no call at all
ANY_CALL_CATEGORIES = frozenset({"live_relevance"})  # right: at least one call, of any tool
RELEVANCE_CATEGORIES = NO_CALL_CATEGORIES | ANY_CALL_CATEGORIES  # no answers: the model must decide


@dataclass(frozen=True)
class BfclEntry:
    id: str
    category: str
    messages: list[dict[str, Any]]  # the first (only) turn of `question`
    functions: list[dict[str, Any]]  # BFCL's own function documents (BFCL type names)
    ground_truth: list[dict[str, dict[str, list[Any]]]] | None  # None in the relevance categories

    @property
    def expects_call(self) -> bool:
        return self.category not in NO_CALL_CATEGORIES


@dataclass(frozen=True)
class DataSource:
    path: Path
    origin: str  # "bfcl-eval 2026.3.23", "--data-dir" or "$TOOLWIRE_BFCL_DIR"

    def describe(self) -> str:
        return f"{self.origin} ({self.path})"


def data_source(data_dir: Path | None = None) -> DataSource:
    """`data_dir` when given, else `$TOOLWIRE_BFCL_DIR`, else the installed `bfcl-eval` package."""
    if data_dir is not None:
        return DataSource(Path(data_dir), "--data-dir")
    if os.environ.get(DATA_DIR_ENV):
        return DataSource(Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}")
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"no BFCL data: the {PACKAGE} package is not installed; run "
                                f"`{INSTALL_COMMAND}`, or pass --data-dir / set ${DATA_DIR_ENV}") from None
    marker = next((f for f in dist.files or () if f.as_posix() == "bfcl_eval/data/BFCL_v4_simple_python.json"),
                  None)
    if marker is None:
        raise FileNotFoundError(f"{PACKAGE} {dist.version} has no bfcl_eval/data/BFCL_v4_simple_python.json")
    return DataSource(Path(marker.locate()).parent, f"{PACKAGE} {dist.version}")


def find_data_dir(data_dir: Path | None = None) -> Path:
    return data_source(data_dir).path


def available_categories(data_dir: Path) -> list[str]:
    """The categories whose question file is in `data_dir`, in CATEGORIES order."""
    return [c for c in CATEGORIES if (Path(data_dir) / f"BFCL_v4_{c}.json").is_file()]


def load_category(data_dir: Path, category: str, limit: int | None = None) -> list[BfclEntry]:
    """The first `limit` entries of a category (all when None), in file order."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; known: {', '.join(CATEGORIES)}")
    questions = _read_lines(Path(data_dir) / f"BFCL_v4_{category}.json", limit)
    answers: dict[str, Any] = {}
    if category not in RELEVANCE_CATEGORIES:
        answers = {row["id"]: row["ground_truth"] for row in
                   _read_lines(Path(data_dir) / "possible_answer" / f"BFCL_v4_{category}.json", None)}
    entries = []
    for row in questions:
        if category not in RELEVANCE_CATEGORIES and row["id"] not in answers:
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

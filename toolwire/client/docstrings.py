"""Split a function's docstring into the tool description and per-parameter descriptions.

Three styles are understood, and may even be mixed:

- Google: an ``Args:`` (or ``Arguments:``, ``Parameters:``, ``Params:``, ``Keyword Args:``) section
  whose entries read ``name: text`` or ``name (type): text``, continued on more-indented lines;
- reST / Sphinx: ``:param name: text`` or ``:param type name: text`` fields (``:type name:`` and
  ``:rtype:`` fields are dropped, they repeat the type hints);
- NumPy: a ``Parameters`` header underlined with dashes, entries ``name : type`` with the text
  indented below.

The description is the docstring with the parameter sections taken out. Everything else stays,
``Returns:`` and ``Raises:`` included: what a tool returns is worth telling the model.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_GOOGLE_PARAM_HEADERS = {
    "args", "arguments", "parameters", "params", "keyword args", "keyword arguments",
    "kwargs", "other parameters",
}
_GOOGLE_ENTRY = re.compile(r"^\**(?P<name>[A-Za-z_]\w*)\s*(?:\((?P<type>[^)]*)\))?\s*:\s*(?P<text>.*)$")
_REST_PARAM = re.compile(
    r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?\**(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<text>.*)$"
)
_REST_DROPPED = re.compile(r"^:(?:type\s+\w+|rtype)\s*:")
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ENTRY = re.compile(r"^\**(?P<name>[A-Za-z_]\w*)\s*(?::.*)?$")


@dataclass
class ParsedDocstring:
    description: str | None
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Return the description (None when empty) and ``{parameter name: description}``."""
    if not doc or not doc.strip():
        return ParsedDocstring(None)
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = _indent(line)
        if stripped.endswith(":") and stripped[:-1].strip().lower() in _GOOGLE_PARAM_HEADERS:
            i = _google_section(lines, i + 1, indent, params)
            continue
        if (
            stripped.lower() in {"parameters", "other parameters"}
            and i + 1 < len(lines)
            and _NUMPY_UNDERLINE.match(lines[i + 1])
        ):
            i = _numpy_section(lines, i + 2, indent, params)
            continue
        if match := _REST_PARAM.match(stripped):
            i, text = _continued(lines, i, indent, match.group("text"))
            params.setdefault(match.group("name"), text)
            continue
        if _REST_DROPPED.match(stripped):
            i, _ = _continued(lines, i, indent, "")
            continue
        kept.append(line)
        i += 1
    description = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return ParsedDocstring(description or None, params)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _continued(lines: list[str], i: int, indent: int, first: str) -> tuple[int, str]:
    """Join ``first`` with the following lines indented deeper than ``indent``."""
    parts = [first.strip()] if first.strip() else []
    i += 1
    while i < len(lines) and lines[i].strip() and _indent(lines[i]) > indent:
        parts.append(lines[i].strip())
        i += 1
    return i, " ".join(parts)


def _section_end(lines: list[str], i: int, header_indent: int) -> int:
    """The first line after a section body: a non-blank line not indented past the header."""
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > header_indent):
        i += 1
    return i


def _google_section(lines: list[str], start: int, header_indent: int, params: dict[str, str]) -> int:
    end = _section_end(lines, start, header_indent)
    body = [line for line in lines[start:end]]
    entry_indent = min((_indent(line) for line in body if line.strip()), default=0)
    name: str | None = None
    parts: list[str] = []
    for line in body + [""]:
        if line.strip() and _indent(line) == entry_indent:
            if name:
                params.setdefault(name, " ".join(parts))
            match = _GOOGLE_ENTRY.match(line.strip())
            name = match.group("name") if match else None
            parts = [match.group("text").strip()] if match and match.group("text").strip() else []
        elif line.strip():
            parts.append(line.strip())
    if name:
        params.setdefault(name, " ".join(parts))
    return end


def _numpy_section(lines: list[str], start: int, header_indent: int, params: dict[str, str]) -> int:
    i = start
    name: str | None = None
    parts: list[str] = []
    while i < len(lines):
        line = lines[i]
        # The next NumPy header (a line followed by dashes) ends the section.
        if line.strip() and i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1]):
            break
        if line.strip() and _indent(line) <= header_indent:
            match = _NUMPY_ENTRY.match(line.strip())
            if not match:
                break
            if name:
                params.setdefault(name, " ".join(parts))
            name, parts = match.group("name"), []
        elif line.strip():
            parts.append(line.strip())
        i += 1
    if name:
        params.setdefault(name, " ".join(parts))
    return i

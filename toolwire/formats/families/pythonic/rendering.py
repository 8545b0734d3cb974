"""Calls written as a pythonic call list, `[f(a=1, b='x'), g()]`: what the prompt shows the model."""

from __future__ import annotations

from collections.abc import Sequence

from toolwire.formats.family import Call


def pythonic_text(calls: Sequence[Call]) -> str:
    # repr() of JSON values is their Python literal: True, None, 'single-quoted strings'.
    return "[" + ", ".join(
        f"{name}(" + ", ".join(f"{key}={value!r}" for key, value in arguments.items()) + ")"
        for name, arguments in calls
    ) + "]"

"""Imports every built-in parser module so that each registers its names."""

from toolwire.formats import (  # noqa: F401
    deepseek,
    granite,
    hermes,
    internlm,
    jamba,
    llama3,
    mistral,
    pythonic,
)

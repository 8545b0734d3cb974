import pytest
import torch

from tests.models.paged import PagedLayout
from tests.models.paged_checks import BLOCK_SIZE, Checker


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    """One thread: with two, every op waits for the slower thread, which crawls when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def pages():
    """A fresh paged layout (scrambled blocks) for the module's `tiny` model."""
    return PagedLayout(num_blocks=64, block_size=BLOCK_SIZE)


@pytest.fixture
def check(tiny, pages):
    """Runs batches on the module's `tiny` model and compares every row with transformers'."""
    return Checker(tiny, pages, tiny.model.make_kv_cache(64, BLOCK_SIZE, torch.float32, "cpu"))

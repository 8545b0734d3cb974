import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    """One thread: with two, every op waits for the slower thread, which crawls when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

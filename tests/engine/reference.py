"""What the engine's results are checked against: one plain prefill of a whole sequence."""

import torch

from toolwire.engine.forward_batch import ForwardBatch
from toolwire.engine.llm_engine import model_device_and_dtype


def full_prefill_logits(model, token_ids: list[int], block_size: int = 16) -> torch.Tensor:
    """float32 logits at every position of token_ids, computed in one step into a fresh cache."""
    device, dtype = model_device_and_dtype(model)
    n = len(token_ids)
    num_blocks = -(-n // block_size)
    cache = model.make_kv_cache(num_blocks + 1, block_size, dtype, device)
    table = list(range(1, num_blocks + 1))
    slots = [table[p // block_size] * block_size + p % block_size for p in range(n)]
    batch = ForwardBatch(
        input_ids=torch.tensor(token_ids, device=device), positions=torch.arange(n, device=device),
        slot_mapping=torch.tensor(slots, device=device),
        block_tables=torch.tensor([table], dtype=torch.int32, device=device),
        query_lens=[n], context_lens=[n], logits_indices=torch.arange(n, device=device),
        context_lens_tensor=torch.tensor([n], dtype=torch.int32, device=device))
    with torch.inference_mode():
        return model.compute_logits(model.forward(batch, cache)).float().cpu()


def greedy_tokens(model, prompt: list[int], count: int) -> list[int]:
    """Greedy decoding by full prefills only: no cache reuse, no batching."""
    tokens = list(prompt)
    for _ in range(count):
        tokens.append(int(full_prefill_logits(model, tokens)[-1].argmax()))
    return tokens[len(prompt):]

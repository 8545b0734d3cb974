"""Small stand-in models that speak the engine's model interface, for engine tests.

ToyLM is a real (tiny) transformer over the paged KV cache: it writes keys/values at the slots and
attends through block tables, so scheduling, prefix caching and preemption bugs change its logits.
ScriptedLM ignores its input and makes the token at position p be script[p]: for tests of text
handling (stop strings, min_tokens, constraints) that need exact outputs.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from toolwire.engine.forward_batch import ForwardBatch

EOS = "<eos>"
EOS_ID = 0
_CORPUS = [
    "Hello world! The quick brown fox jumps over the lazy dog.",
    "User: what is the weather like today? Assistant: it is sunny and warm.",
    "Numbers 0123456789 and symbols {}[]()<>:;,.!?\"' for JSON like {\"a\": 1}.",
    "Über café naïve 日本語 emoji 🙂 done. STOP here, stop there, END.",
]


@functools.cache
def toy_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with about 400 tokens (EOS is id 0)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(_CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS)


def as_loaded_model(model, config, tokenizer=None):
    """What toolwire.models.load_model returns, for a model built here."""
    tokenizer = tokenizer or toy_tokenizer()
    return SimpleNamespace(model=model, tokenizer=tokenizer, chat_template=None, config=config,
                           eos_token_ids={tokenizer.eos_token_id}, source="test")


def _config(vocab_size: int, num_layers: int, num_kv_heads: int, head_dim: int):
    return SimpleNamespace(num_layers=num_layers, num_kv_heads=num_kv_heads, head_dim=head_dim,
                           vocab_size=vocab_size, max_position_embeddings=1024)


class ToyLM(torch.nn.Module):
    def __init__(self, vocab_size: int, hidden: int = 32, heads: int = 2, layers: int = 2, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.heads, self.head_dim = heads, hidden // heads
        self.embed = torch.nn.Parameter(torch.randn(vocab_size, hidden, generator=generator))
        self.qkv = torch.nn.ParameterList(
            torch.randn(hidden, 3 * hidden, generator=generator) / math.sqrt(hidden) for _ in range(layers))
        self.out = torch.nn.ParameterList(
            torch.randn(hidden, hidden, generator=generator) / math.sqrt(hidden) for _ in range(layers))
        self.lm_head = torch.nn.Parameter(torch.randn(hidden, vocab_size, generator=generator))

    def make_kv_cache(self, num_blocks, block_size, dtype, device):
        self.block_size = block_size
        return torch.zeros(len(self.qkv), 2, num_blocks * block_size, self.heads, self.head_dim,
                           dtype=dtype, device=device)

    def forward(self, batch: ForwardBatch, kv_cache: torch.Tensor) -> torch.Tensor:
        x = self.embed[batch.input_ids] + _position_code(batch.positions, self.embed.shape[1])
        for layer, (qkv, out) in enumerate(zip(self.qkv, self.out)):
            q, k, v = (x @ qkv).view(-1, 3, self.heads, self.head_dim).unbind(1)
            kv_cache[layer, 0, batch.slot_mapping] = k
            kv_cache[layer, 1, batch.slot_mapping] = v
            x = x + _paged_attention(q, kv_cache[layer], batch, self.block_size) @ out
        return x

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return (hidden @ self.lm_head).float()


def _position_code(positions: torch.Tensor, width: int) -> torch.Tensor:
    freqs = torch.exp(-torch.arange(0, width, 2, dtype=torch.float32, device=positions.device) / width * 6)
    angles = positions.float().unsqueeze(1) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _paged_attention(q: torch.Tensor, cache: torch.Tensor, batch: ForwardBatch,
                     block_size: int) -> torch.Tensor:
    if batch.is_pure_decode and batch.context_lens_tensor is not None:
        return _decode_attention(q, cache, batch, block_size)
    outputs, start = [], 0
    for b, (query_len, context_len) in enumerate(zip(batch.query_lens, batch.context_lens)):
        blocks = batch.block_tables[b].long()
        slots = (blocks.unsqueeze(1) * block_size
                 + torch.arange(block_size, device=q.device)).flatten()[:context_len]
        keys, values = cache[0, slots], cache[1, slots]  # [ctx, H, D]
        query = q[start:start + query_len]
        query_positions = torch.arange(context_len - query_len, context_len, device=q.device)
        mask = torch.arange(context_len, device=q.device).unsqueeze(0) <= query_positions.unsqueeze(1)
        scores = torch.einsum("qhd,khd->hqk", query, keys) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(~mask, float("-inf"))
        outputs.append(torch.einsum("hqk,khd->qhd", scores.softmax(-1), values).flatten(1))
        start += query_len
    return torch.cat(outputs)



def _decode_attention(q: torch.Tensor, cache: torch.Tensor, batch: ForwardBatch,
                      block_size: int) -> torch.Tensor:
    """One query per sequence, lengths from tensors only: capturable in a CUDA graph."""
    offsets = torch.arange(block_size, device=q.device)
    slots = (batch.block_tables.long().unsqueeze(2) * block_size + offsets).flatten(1)  # [B, S]
    keys, values = cache[0, slots], cache[1, slots]  # [B, S, H, D]
    scores = torch.einsum("bhd,bshd->bhs", q, keys) / math.sqrt(q.shape[-1])
    visible = torch.arange(slots.shape[1], device=q.device) < batch.context_lens_tensor.unsqueeze(1)
    scores = scores.masked_fill(~visible.unsqueeze(1), float("-inf"))
    return torch.einsum("bhs,bshd->bhd", scores.softmax(-1), values).flatten(1)

class ScriptedLM(torch.nn.Module):
    """The token at position p is script[p] (EOS past the end), all but certainly."""

    def __init__(self, script: list[int], vocab_size: int):
        super().__init__()
        self.script = list(script)
        self.vocab_size = vocab_size
        self.dummy = torch.nn.Parameter(torch.zeros(1))  # the engine reads device and dtype off it

    def make_kv_cache(self, num_blocks, block_size, dtype, device):
        return torch.zeros(1, dtype=dtype, device=device)

    def forward(self, batch: ForwardBatch, kv_cache: torch.Tensor) -> torch.Tensor:
        return batch.positions.float().unsqueeze(1)

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        positions = hidden[:, 0].long().tolist()
        logits = torch.linspace(0, 1, self.vocab_size).repeat(len(positions), 1)
        for row, p in enumerate(positions):
            token = self.script[p + 1] if p + 1 < len(self.script) else EOS_ID
            logits[row, token] = 50.0  # certain even when sampled at temperature 1
        return logits


def toy_loaded_model(seed: int = 0, layers: int = 2):
    vocab_size = len(toy_tokenizer())
    model = ToyLM(vocab_size, layers=layers, seed=seed)
    return as_loaded_model(model, _config(vocab_size, layers, model.heads, model.head_dim))


def scripted_loaded_model(script: list[int]):
    vocab_size = len(toy_tokenizer())
    return as_loaded_model(ScriptedLM(script, vocab_size), _config(vocab_size, 1, 1, 1))

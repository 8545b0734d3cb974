"""Write a tiny transformers model out as a GGUF file the way llama.cpp's converter lays it out.

Tensor names come from the gguf package's own HF -> GGUF name map and metadata through GGUFWriter's
helpers, so the file follows the package's conventions rather than ours. Like the converter, q/k
rows are reordered for the llama-style architectures, and llama3 rope scaling becomes a
`rope_freqs` tensor of per-frequency divisors.

With a qtype other than F32, the 2-D weight matrices are stored in it (quantized by the gguf package's
own `gguf.quants.quantize`) while norms, biases and rope factors stay F32, as llama.cpp does.
`dequantized_model` is the transformers model with the weights a reader of that file gets back.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import gguf
import numpy as np
import torch
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize

from tests.models.tiny_models import CHAT_TEMPLATE, tiny_tokenizer

_GGUF_ARCH = {"llama": gguf.MODEL_ARCH.LLAMA, "llama3": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2,
              "qwen3": gguf.MODEL_ARCH.QWEN3, "granite": gguf.MODEL_ARCH.GRANITE}
_PERMUTED = {"llama", "llama3", "granite"}


# What the tests write: F32 and the types the default model and common small GGUFs come in. The
# tiny models' row lengths (64, 96, 128) are multiples of their block size (32).
QTYPES = ("F32", "F16", "Q8_0", "Q4_0", "Q4_1")


def _stored(data: np.ndarray, qtype: GGMLQuantizationType) -> np.ndarray:
    """A tensor as the file holds it: 2-D weights in qtype, anything else F32."""
    return quantize(data, qtype) if data.ndim == 2 else data


def dequantized_model(hf_model, qtype: str):
    """A copy of the transformers model with the weights a reader of the qtype file gets back."""
    qtype = GGMLQuantizationType[qtype]
    model = copy.deepcopy(hf_model)
    with torch.no_grad():
        for param in model.parameters():  # tied embeddings come once
            if param.dim() == 2:
                data = param.detach().numpy()
                param.copy_(torch.from_numpy(dequantize(_stored(data, qtype), qtype).reshape(data.shape)))
    return model


def _converter_permute(weights: np.ndarray, num_heads: int) -> np.ndarray:
    """llama.cpp's reordering of q/k rows: within each head, the two halves get interleaved."""
    return (weights.reshape(num_heads, 2, weights.shape[0] // num_heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _llama3_rope_factors(config) -> np.ndarray:
    rope = config.rope_parameters
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    base = rope["rope_theta"]
    factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    original = rope["original_max_position_embeddings"]
    factors = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi * base ** (i / head_dim)
        if wavelen < original / high:
            factors.append(1.0)
        elif wavelen > original / low:
            factors.append(factor)
        else:
            smooth = (original / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def add_tiny_hparams(writer: gguf.GGUFWriter, config) -> None:
    """The hyperparameters every architecture's file has, from the transformers config."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_vocab_size(config.vocab_size)


def add_tiny_tokenizer(writer: gguf.GGUFWriter) -> None:
    """The tiny byte-level tokenizer and chat template, as llama.cpp's "gpt2" tokenizer model."""
    tokenizer = tiny_tokenizer()
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    special = set(tokenizer.all_special_tokens)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges([])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)


def save_tiny_gguf(arch: str, hf_model, path: Path, qtype: str = "F32") -> Path:
    config = hf_model.config
    qtype = GGMLQuantizationType[qtype]
    gguf_arch = _GGUF_ARCH[arch]
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf_arch])
    add_tiny_hparams(writer, config)
    if arch == "granite":
        writer.add_embedding_scale(config.embedding_multiplier)
        writer.add_residual_scale(config.residual_multiplier)
        writer.add_attention_scale(config.attention_multiplier)
        writer.add_logit_scale(config.logits_scaling)
    add_tiny_tokenizer(writer)

    names = gguf.get_tensor_name_map(gguf_arch, config.num_hidden_layers)
    for hf_name, tensor in hf_model.state_dict().items():
        if hf_name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        data = tensor.float().numpy()
        if arch in _PERMUTED and name.split(".")[-2] in ("attn_q", "attn_k"):
            heads = config.num_attention_heads if "attn_q" in name else config.num_key_value_heads
            data = _converter_permute(data, heads)
        writer.add_tensor(name, _stored(np.ascontiguousarray(data), qtype),
                          raw_dtype=qtype if data.ndim == 2 else None)
    if arch == "llama3":
        writer.add_tensor("rope_freqs.weight", _llama3_rope_factors(config))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path

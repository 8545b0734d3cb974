"""Tiny random-weight models built with transformers' own classes, saved as HF folders.

    folder, hf_model = save_tiny_model("qwen3", tmp_path / "qwen3")
    loaded = load_model(str(folder), weights="exact")  # logits match hf_model
    hf_model = build_tiny_hf("Glm4MoeConfig", "Glm4MoeForCausalLM", seed=0, **config_fields)  # any class

Each Llama-family architecture's config turns on what makes it different (rope scaling, sliding
window, biases, q/k norms, granite multipliers, tied embeddings). Weights are re-drawn at a scale
that gives logits of a few units, so a wrong layout or a missing term shows up well above float noise.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

ARCHITECTURES = ("llama", "llama3", "mistral", "qwen2", "qwen3", "granite")

SPECIAL_TOKENS = ("<s>", "</s>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

_COMMON = dict(vocab_size=260, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
               rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1)

_CONFIGS = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(tie_word_embeddings=True)),
    "llama3": ("LlamaConfig", "LlamaForCausalLM", dict(
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
        eos_token_id=[1, 3])),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(sliding_window=6)),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(head_dim=32, tie_word_embeddings=True)),
    "granite": ("GraniteConfig", "GraniteForCausalLM", dict(
        embedding_multiplier=6.0, residual_multiplier=0.5, attention_multiplier=0.1, logits_scaling=4.0,
        attention_bias=True, mlp_bias=True)),
}


def tiny_hf_config(arch: str, **overrides) -> transformers.PretrainedConfig:
    config_class, _, extra = _CONFIGS[arch]
    return getattr(transformers, config_class)(**{**_COMMON, **extra, **overrides})


def build_tiny_hf_model(arch: str, seed: int = 0, **overrides) -> transformers.PreTrainedModel:
    """A transformers model of the architecture with random weights, fp32, eval mode, eager attention."""
    config_class, model_class, extra = _CONFIGS[arch]
    return build_tiny_hf(config_class, model_class, seed, **{**_COMMON, **extra, **overrides})


def build_tiny_hf(config_class: str, model_class: str, seed: int = 0, **config) -> transformers.PreTrainedModel:
    """A transformers model (fp32, eval, eager attention) of the named classes, randomised."""
    hf_config = getattr(transformers, config_class)(**config)
    hf_config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = getattr(transformers, model_class)(hf_config).float().eval()
    randomize_weights(model, seed)
    return model


def randomize_weights(model: torch.nn.Module, seed: int) -> None:
    """Weights at a scale giving logits of a few units: norms near 1, biases (router correction
    biases included, which are buffers) ~0.2, matrices ~1/sqrt(fan-in) (the last dimension, so stacked
    [E, out, in] expert weights too), embeddings ~1."""
    generator = torch.Generator().manual_seed(seed)

    def draw(shape):
        return torch.randn(shape, generator=generator)

    tensors = list(model.named_parameters()) + [(n, b) for n, b in model.named_buffers() if "bias" in n]
    with torch.no_grad():
        for name, tensor in tensors:
            if not tensor.is_floating_point():
                continue
            if name.endswith("norm.weight"):
                tensor.copy_(1 + 0.2 * draw(tensor.shape))
            elif tensor.dim() == 1:
                tensor.copy_(0.2 * draw(tensor.shape))
            elif "embed_tokens" in name:
                tensor.copy_(draw(tensor.shape))
            else:
                tensor.copy_(draw(tensor.shape) / tensor.shape[-1] ** 0.5)


@functools.cache
def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level: ids 0-3 are SPECIAL_TOKENS (bos <s>, eos </s>), then the 256 byte symbols."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(list(SPECIAL_TOKENS) + alphabet)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   chat_template=CHAT_TEMPLATE)


def save_tiny_model(arch: str, folder: Path, seed: int = 0, **overrides) -> tuple[Path, transformers.PreTrainedModel]:
    """Save a tiny model (safetensors) and the tiny tokenizer to `folder`; return it and the HF model."""
    model = build_tiny_hf_model(arch, seed, **overrides)
    return save_tiny_hf(model, folder), model


def save_tiny_hf(model: transformers.PreTrainedModel, folder: Path, chat_template: str | None = None) -> Path:
    """An HF folder toolwire loads: the model (safetensors) and the tiny byte-level tokenizer, with
    `chat_template` (a model's real template, say) in place of the tokenizer's own."""
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tiny_tokenizer().save_pretrained(folder)
    if chat_template is not None:
        (folder / "chat_template.jinja").write_text(chat_template, encoding="utf-8")
    return folder


def hf_logits(model: transformers.PreTrainedModel, token_ids: list[int]) -> torch.Tensor:
    """Reference logits [len(token_ids), vocab] from one plain forward of the HF model."""
    with torch.no_grad():
        return model(torch.tensor([token_ids])).logits[0].float()

"""A Hugging Face fast tokenizer built from a GGUF file's `tokenizer.ggml.*` metadata.

Byte-level BPE vocabularies (`tokenizer.ggml.model == "gpt2"`: SmolLM2, Llama 3, Qwen, Granite) are
built here directly, in well under a second. The pre-tokenizer regex is not stored in the file, only
a name for it (`tokenizer.ggml.pre`); the table below gives the split each name stands for. Other
vocabularies (SentencePiece "llama") go through transformers' own GGUF conversion, which is slower.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

logger = logging.getLogger(__name__)

# GGUF token types.
CONTROL, USER_DEFINED = 3, 4

_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_TEKKEN_SPLIT = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
                 r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
                 r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# tokenizer.ggml.pre -> the regex splits applied in order before byte-level BPE, and whether words
# found whole in the vocabulary skip the merges (Llama 3 tokenizers do).
_PRE_TOKENIZERS: dict[str, tuple[list[str], bool]] = {
    "default": ([_GPT2_SPLIT], False),
    "gpt-2": ([_GPT2_SPLIT], False),
    "gpt2": ([_GPT2_SPLIT], False),
    # digits one by one, then GPT-2's split
    "smollm": ([r"\p{N}", _GPT2_SPLIT], False),
    "refact": ([r"\p{N}", _GPT2_SPLIT], False),
    "starcoder": ([r"\p{N}", _GPT2_SPLIT], False),
    "llama-bpe": ([_LLAMA3_SPLIT], True),
    "llama3": ([_LLAMA3_SPLIT], True),
    "llama-v3": ([_LLAMA3_SPLIT], True),
    "smaug-bpe": ([_LLAMA3_SPLIT], False),
    "qwen2": ([_QWEN2_SPLIT], False),
    "deepseek-r1-qwen": ([_QWEN2_SPLIT], False),
    "tekken": ([_TEKKEN_SPLIT], False),
}


def tokenizer_from_gguf(meta: Mapping[str, Any], path: Path) -> PreTrainedTokenizerFast:
    model = meta.get("tokenizer.ggml.model")
    pre = meta.get("tokenizer.ggml.pre", "default")
    if model == "gpt2" and pre in _PRE_TOKENIZERS:
        return _byte_level_bpe(meta, *_PRE_TOKENIZERS[pre])
    logger.info("tokenizer %r/%r: using transformers' GGUF conversion", model, pre)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def _byte_level_bpe(meta: Mapping[str, Any], splits: list[str], ignore_merges: bool) -> PreTrainedTokenizerFast:
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(split), behavior="isolated") for split in splits]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_tokens([AddedToken(tokens[i], special=types[i] == CONTROL, normalized=False)
                          for i in range(len(tokens)) if types[i] in (CONTROL, USER_DEFINED)])

    def token(key: str) -> str | None:
        index = meta.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[index] if index is not None and 0 <= index < len(tokens) else None

    bos, eos = token("bos"), token("eos")
    tokenizer.post_processor = _post_processor(
        bos if meta.get("tokenizer.ggml.add_bos_token") else None,
        eos if meta.get("tokenizer.ggml.add_eos_token") else None, vocab)
    special = {name: value for name, value in
               (("bos_token", bos), ("eos_token", eos), ("unk_token", token("unknown")), ("pad_token", token("padding")))
               if value is not None}
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, clean_up_tokenization_spaces=False, **special)


def _post_processor(bos: str | None, eos: str | None, vocab: dict[str, int]):
    byte_level = processors.ByteLevel(trim_offsets=False)
    if bos is None and eos is None:
        return byte_level
    head = [bos] if bos else []
    tail = [eos] if eos else []
    single = " ".join(head + ["$A"] + tail)
    pair = " ".join(head + ["$A"] + tail + [f"{t}:1" for t in head] + ["$B:1"] + [f"{t}:1" for t in tail])
    template = processors.TemplateProcessing(single=single, pair=pair,
                                             special_tokens=[(t, vocab[t]) for t in dict.fromkeys(head + tail)])
    return processors.Sequence([byte_level, template])

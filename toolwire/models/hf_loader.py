"""A local Hugging Face folder as a checkpoint: config.json, *.safetensors, tokenizer files,
generation_config.json and the chat template.

Quantized checkpoints: block-scaled FP8 ("quant_method": "fp8") is dequantized here as tensors are
read, whatever the architecture (fp8.py); a method an architecture reads itself (gpt-oss's mxfp4)
passes through; any other is refused by name, rather than loaded as unscaled weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from toolwire.models.architectures import hf_architecture
from toolwire.models.config import ModelConfig
from toolwire.models.errors import ModelLoadError
from toolwire.models.fp8 import dequantizing_fp8, fp8_weight_block


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read it as JSON ({exc})") from None


class HFCheckpoint:
    def __init__(self, folder: Path):
        self.path = folder
        self.name = folder.name
        config = _read_json(folder / "config.json")
        if config is None:
            raise ModelLoadError(f"{folder}: no config.json, so this is not a Hugging Face model folder")
        arch = hf_architecture(config)
        self.config: ModelConfig = arch.read_hf_config(config, _read_json(folder / "generation_config.json"))
        self._get = self._read
        quantization = config.get("quantization_config") or {}
        method = quantization.get("quant_method")
        if method == "fp8":
            self._get = dequantizing_fp8(self._read, fp8_weight_block(quantization))
        elif method is not None and method not in arch.hf_quant_methods:
            supported = ", ".join(["fp8 (block-scaled)"] + [f"{m} ({arch.name} only)" for m in arch.hf_quant_methods])
            raise ModelLoadError(f"{folder}: config.json's quantization_config has quant_method {method!r}, "
                                 f"which toolwire cannot read (it reads: {supported})")
        self._files = sorted(folder.glob("*.safetensors"))
        if not self._files:
            raise ModelLoadError(f"{folder}: no *.safetensors weights found")
        self._handles = {}
        self._where: dict[str, Path] = {}
        for file in self._files:
            try:
                handle = safe_open(str(file), framework="pt")
            except Exception as exc:  # safetensors raises its own error type for a bad header
                raise ModelLoadError(f"{file}: not a readable safetensors file ({exc})") from None
            self._handles[file] = handle
            for key in handle.keys():
                self._where[key] = file

    def tensor(self, hf_name: str) -> torch.Tensor:
        """A tensor by its HF name, dequantized when the checkpoint is FP8 (KeyError: no such tensor)."""
        return self._get(hf_name)

    def _read(self, hf_name: str) -> torch.Tensor:
        return self._handles[self._where[hf_name]].get_tensor(hf_name)

    def tokenizer(self):
        if not any((self.path / name).is_file() for name in ("tokenizer.json", "tokenizer.model")):
            raise ModelLoadError(f"{self.path}: no tokenizer.json (or tokenizer.model) found")
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.path))

    def chat_template(self) -> str | None:
        jinja = self.path / "chat_template.jinja"
        if jinja.is_file():
            return jinja.read_text(encoding="utf-8")
        template = (_read_json(self.path / "tokenizer_config.json") or {}).get("chat_template")
        if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
            named = {t.get("name"): t.get("template") for t in template}
            template = named.get("default") or next(iter(named.values()), None)
        return template

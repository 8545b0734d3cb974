"""A local Hugging Face folder as a checkpoint: config.json, *.safetensors, tokenizer files,
generation_config.json and the chat template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from toolwire.models.architectures import config_from_hf
from toolwire.models.config import ModelConfig
from toolwire.models.errors import ModelLoadError


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
        self.config: ModelConfig = config_from_hf(config, _read_json(folder / "generation_config.json"))
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

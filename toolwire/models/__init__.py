"""Model code for the supported architectures (architectures.py lists the families) and loading it from
GGUF files, HF folders or the hub."""

from toolwire.models.config import ModelConfig, RopeScaling
from toolwire.models.errors import ModelLoadError
from toolwire.models.kv_cache import PagedKVCache
from toolwire.models.llama import LlamaForCausalLM
from toolwire.models.loader import LoadedModel, default_model_path, load_model

__all__ = ["LlamaForCausalLM", "LoadedModel", "ModelConfig", "ModelLoadError", "PagedKVCache", "RopeScaling",
           "default_model_path", "load_model"]

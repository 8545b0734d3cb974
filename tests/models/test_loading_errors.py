"""What a user sees when a model cannot be loaded: a ModelLoadError whose message names the path."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.models.tiny_gguf import save_tiny_gguf
from tests.models.tiny_models import build_tiny_hf_model, save_tiny_model
from toolwire.models import ModelLoadError, load_model
from toolwire.models.loader import resolve_device


def load(path, **kwargs):
    return load_model(str(path), device="cpu", weights="exact", progress=False, **kwargs)


def test_missing_path(tmp_path):
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelLoadError, match="no such file") as error:
        load(missing)
    assert str(missing) in str(error.value)


def test_corrupt_gguf(tmp_path):
    path = tmp_path / "corrupt.gguf"
    path.write_bytes(b"this is not a gguf file at all" * 10)
    with pytest.raises(ModelLoadError, match="not a GGUF file") as error:
        load(path)
    assert str(path) in str(error.value)


def test_truncated_gguf(tmp_path):
    path = save_tiny_gguf("llama", build_tiny_hf_model("llama"), tmp_path / "tiny.gguf")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ModelLoadError, match="truncated") as error:
        load(path)
    assert str(path) in str(error.value)


def test_gguf_header_cut_short(tmp_path):
    path = save_tiny_gguf("llama", build_tiny_hf_model("llama"), tmp_path / "tiny.gguf")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelLoadError, match="not a valid GGUF file") as error:
        load(path)
    assert str(path) in str(error.value)


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json") as error:
        load(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_unsupported_architecture(tmp_path):
    folder, _ = save_tiny_model("llama", tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "gpt_neox"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="gpt_neox.*not supported") as error:
        load(folder)
    assert str(folder) in str(error.value)


@pytest.mark.parametrize("model_type, method", [("llama", "gptq"), ("qwen3", "awq"), ("llama", "mxfp4")])
def test_unsupported_quantization(model_type, method, tmp_path):
    """A quantization toolwire cannot read is refused by name, not loaded as unscaled weights (mxfp4
    is gpt-oss's own: its experts only)."""
    folder, _ = save_tiny_model(model_type, tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"] = {"quant_method": method, "bits": 4}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=f"quant_method '{method}'.*reads: fp8") as error:
        load(folder)
    assert str(folder) in str(error.value)


def test_missing_tensor(tmp_path):
    folder, _ = save_tiny_model("qwen2", tmp_path / "m")
    tensors = load_file(folder / "model.safetensors")
    del tensors["model.layers.1.mlp.down_proj.weight"]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"missing tensor model\.layers\.1\.mlp\.down_proj\.weight") as error:
        load(folder)
    assert str(folder) in str(error.value)


def test_weights_that_do_not_fit_the_config(tmp_path):
    folder, _ = save_tiny_model("llama", tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 100
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="gate_proj.weight") as error:
        load(folder)
    assert str(folder) in str(error.value)


def test_corrupt_safetensors(tmp_path):
    folder, _ = save_tiny_model("llama", tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError) as error:
        load(folder)
    assert str(folder) in str(error.value)


def test_unreachable_hub_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="some-org/some-model.*hub"):
        load("some-org/some-model")


@pytest.mark.parametrize("option, value", [("dtype", "float64"), ("device", "tpu"), ("device", "cuda:x"),
                                           ("device", "cuda:-1"), ("weights", "int3"),
                                           ("weights", "int8/bf16/exact")])
def test_bad_options(option, value, tmp_path):
    with pytest.raises(ModelLoadError, match=option):
        load_model(str(tmp_path), progress=False, **{option: value})


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_device_without_a_gpu(device, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelLoadError, match=f"device {device} was asked for, but torch sees no CUDA GPU"):
        resolve_device(device)


def test_cuda_device_index(monkeypatch):
    """`--device cuda:N` (as serve's help offers) picks GPU N; an N past the last GPU is refused."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ModelLoadError, match=r"device cuda:2 was asked for, but torch sees 2 CUDA GPU\(s\): "
                                             r"cuda:0, cuda:1$"):
        resolve_device("cuda:2")

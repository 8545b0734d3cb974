"""The default model, SmolLM2-135M-Instruct from its Q4_1 GGUF, against transformers reading the same file.

Two ways of loading it: `weights="exact"` expands every tensor to float32 (torch's matmul), the
default keeps the file's Q4_1 / Q8_0 blocks and multiplies with the block kernels. Both equal
transformers (which dequantizes the file) token for token; the kernels' logits within 1e-3, the
float32 summation order being theirs.
"""

from __future__ import annotations


import httpx
import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

from tests.models.paged import PagedLayout
from tests.server.helpers import LiveServer
from toolwire.models import default_model_path, load_model
from toolwire.models.linear import Linear

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "Write a short poem about the sea, then list three fish."}]
NEW_TOKENS = 48


@pytest.fixture(scope="module")
def smollm2():
    return load_model(None, device="cpu", weights="exact", progress=False)


@pytest.fixture(scope="module")
def smollm2_blocks():
    return load_model(None, device="cpu", progress=False)


@pytest.fixture(scope="module")
def hf_smollm2():
    """transformers' LlamaForCausalLM with transformers' own reading of the GGUF tensors (names,
    dequantization, q/k row order): what from_pretrained(gguf_file=...) does, minus its need for the
    accelerate package. The config is SmolLM2-135M's, written out (test_default_model_metadata
    checks ours against the same values)."""
    config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, rms_norm_eps=1e-5,
                         max_position_embeddings=8192, rope_parameters={"rope_type": "default", "rope_theta": 1e5},
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config).float()
    tensors = load_gguf_checkpoint(str(default_model_path()), return_tensors=True, model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}
    model.tie_weights()
    return model.eval()


def prompt_ids(loaded) -> list[int]:
    text = loaded.tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    return loaded.tokenizer(text, add_special_tokens=False)["input_ids"]


def our_greedy(loaded, prompt: list[int], count: int) -> tuple[list[int], torch.Tensor]:
    model = loaded.model
    pages = PagedLayout(num_blocks=32, block_size=16)
    cache = model.make_kv_cache(32, 16, torch.float32, "cpu")
    seq = pages.sequence(prompt + [0] * count)
    generated, first_logits = [], None
    with torch.inference_mode():
        batch, _ = pages.step([(seq, len(prompt))])
        logits = model.compute_logits(model.forward(batch, cache))
        first_logits = logits
        for i in range(count):
            token = int(logits[-1].argmax())
            generated.append(token)
            seq.token_ids[len(prompt) + i] = token
            if i + 1 < count:
                batch, _ = pages.step([(seq, 1)])
                logits = model.compute_logits(model.forward(batch, cache))
    return generated, first_logits


def hf_greedy(model, prompt: list[int], count: int) -> tuple[list[int], torch.Tensor]:
    generated = []
    with torch.no_grad():
        out = model(torch.tensor([prompt]), use_cache=True)
        first_logits = out.logits[0].float()
        for i in range(count):
            token = int(out.logits[0, -1].argmax())
            generated.append(token)
            if i + 1 < count:
                out = model(torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
    return generated, first_logits


def test_default_model_metadata(smollm2):
    c = smollm2.config
    assert (c.architecture, c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads) == ("llama", 30, 576, 9, 3)
    assert (c.vocab_size, c.intermediate_size, c.head_dim, c.max_position_embeddings) == (49152, 1536, 64, 8192)
    assert c.tie_word_embeddings and c.rope_theta == 100000.0 and c.rope_scaling is None
    assert c.rms_norm_eps == pytest.approx(1e-5)
    assert smollm2.name == "SmolLM2-135M-Instruct"
    assert smollm2.source == str(default_model_path())
    assert smollm2.eos_token_ids == {2}  # <|im_end|>
    assert "<|im_start|>" in smollm2.chat_template


@pytest.mark.parametrize("weights", ["exact", "blocks"])
def test_greedy_tokens_match_transformers(request, weights, hf_smollm2):
    loaded = request.getfixturevalue("smollm2" if weights == "exact" else "smollm2_blocks")
    prompt = prompt_ids(loaded)
    ours, our_logits = our_greedy(loaded, prompt, NEW_TOKENS)
    theirs, their_logits = hf_greedy(hf_smollm2, prompt, NEW_TOKENS)
    torch.testing.assert_close(our_logits, their_logits, atol=1e-3, rtol=0)
    assert ours == theirs, (loaded.tokenizer.decode(ours), loaded.tokenizer.decode(theirs))


def test_quantized_file_stays_quantized(smollm2_blocks):
    """Memory: the file's blocks, no float copy of any matrix (the 98 MB file would be 540 MB)."""
    model = smollm2_blocks.model
    linears = [m for m in model.modules() if isinstance(m, Linear)]
    assert all(m.quantized is not None and m.weight.numel() == 0 for m in linears)
    assert model.embed_tokens.numel() == 0 and model.lm_head.quantized is model.quantized_embeddings
    held = {id(p.blocks): p.blocks.numel() for m in linears for p in m.quantized.parts}
    file_bytes = default_model_path().stat().st_size
    assert 0.9 * file_bytes < sum(held.values()) < 1.2 * file_bytes
    assert {p.type_name for m in linears for p in m.quantized.parts} == {"Q4_1", "Q8_0"}
    assert smollm2_blocks.kernel_choices is not None and len(smollm2_blocks.kernel_choices.paths) == 5


def test_served_greedy_completion_matches_transformers(hf_smollm2):
    """`toolwire serve --dtype float32` as a user starts it (the default weights: the file's blocks):
    /v1/completions at temperature 0 continues a prompt with transformers' greedy tokens, and
    /metrics names the matmul path each weight takes."""
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path().parent), gguf_file=default_model_path().name)
    prompt = tokenizer("The three primary colors are", add_special_tokens=False)["input_ids"]
    expected, _ = hf_greedy(hf_smollm2, prompt, 24)
    server = LiveServer("smollm2-f32", ["--dtype", "float32", "--no-repetition-guard", "--kv-cache-memory", "0.05",
                                         "--max-model-len", "512"]).start()
    try:
        response = httpx.post(server.base_url + "/completions", timeout=120, json={
            "prompt": prompt, "temperature": 0, "max_tokens": 24, "ignore_eos": True, "logprobs": 1})
        metrics = httpx.get(server.url + "/metrics", timeout=30).text
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    served = response.json()["choices"][0]["logprobs"]["tokens"]
    assert served == [tokenizer.decode([t]) for t in expected], (served, tokenizer.decode(expected))
    assert 'toolwire_quantized_matmul_path_info{' in metrics and 'weight="Q4_1 [3072, 576]"' in metrics


def test_tokenizer_matches_transformers_gguf_conversion(smollm2):
    path = default_model_path()
    reference = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    texts = ["Hello world 12345 and  spaces\n\n\tTabs", "<|im_start|>user\nWhat's up?<|im_end|>\n",
             "Über café naïve 日本語 🙂 {\"a\": [1.25e-3, null]}", "   leading", "<tool_call>{\"name\": \"f\"}</tool_call>"]
    for text in texts:
        ids = smollm2.tokenizer(text)["input_ids"]
        assert ids == reference(text)["input_ids"], text
        assert smollm2.tokenizer.decode(ids) == text
    assert smollm2.tokenizer.convert_ids_to_tokens(smollm2.tokenizer("2024")["input_ids"]) == ["2", "0", "2", "4"]
    assert smollm2.tokenizer.decode([1, 2], skip_special_tokens=True) == ""


@pytest.mark.parametrize("decode, batch", [("int8", "bf16"), ("int4", "exact"), ("bf16", "bf16")])
def test_fast_weights_stay_close_to_exact(smollm2, decode, batch):
    """Compact weights are not exact, but the prompt's next-token distribution barely moves."""
    prompt = prompt_ids(smollm2)
    _, exact = our_greedy(smollm2, prompt, 2)
    try:
        with torch.inference_mode():
            smollm2.model.set_matmul_weights(decode, batch, decode_max_rows=4)
        _, fast = our_greedy(smollm2, prompt, 2)
    finally:
        smollm2.model.set_matmul_weights("exact", "exact")
    exact_probs, fast_probs = exact[-1].softmax(-1), fast[-1].softmax(-1)
    assert exact_probs.argmax() == fast_probs.argmax()
    assert (exact_probs - fast_probs).abs().sum() < 0.1  # total variation * 2

"""What every architecture's test against transformers shares: its tiny checkpoints, built once, and the
paged-cache scenarios every model must pass.

    FAMILY = TinyFamily(lambda variant: build_tiny_hf("Glm4MoeConfig", "Glm4MoeForCausalLM", **CONFIG),
                        chat_template=REAL_TEMPLATES / "zai-org-GLM-4.5.jinja")
    tiny = FAMILY.fixture()  # module-scoped `tiny`, one per variant: .hf, .folder, .loaded, .model
    from tests.models.paged_checks import test_paged_logits_match_transformers  # run here, on `tiny`

`test_paged_logits_match_transformers` runs batches through `Checker` (each row's logits within 1e-4
of transformers', fp32; fixtures `pages` and `check` in conftest.py) in every way the engine uses the
paged cache: whole prefill, decode step by step, a prefix-cache hit, mixed prefill + decode batches,
batched decode of different lengths, recompute after preemption. The rest rewrites a tiny checkpoint
into the other forms real ones ship in (stacked experts, FP8) and checks what loads from it.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Mapping

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from tests.models.paged import PagedLayout, PagedSequence, paged_logits
from tests.models.tiny_models import hf_logits, save_tiny_hf
from toolwire.models import LoadedModel, load_model

BLOCK_SIZE = 4
TOLERANCE = dict(atol=1e-4, rtol=0)


def tokens(seed: int, length: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(4, 260) for _ in range(length)]


def load_exact(folder: Path) -> LoadedModel:
    """The checkpoint as the accuracy tests load it: fp32 on CPU, the weights as loaded."""
    return load_model(str(folder), device="cpu", weights="exact", progress=False)


def assert_logits_match(model, hf_model: transformers.PreTrainedModel, ids: list[int], chunks: tuple[int, ...]) -> None:
    """Our logits for `ids` fed in `chunks` over a paged cache are transformers' (1e-4)."""
    torch.testing.assert_close(paged_logits(model, ids, chunks), hf_logits(hf_model, ids), **TOLERANCE)


# -- the tiny checkpoints of a family ---------------------------------------------------------------

class TinyFamily:
    """A family's tiny checkpoints: `build(variant)` makes the transformers model (random weights);
    each variant is saved with the tiny tokenizer (and `chat_template`: one file for all variants or
    one per variant) and loaded once per test session."""

    def __init__(self, build: Callable[[Any], transformers.PreTrainedModel], variants: tuple = (None,),
                 chat_template: Path | Mapping[Any, Path] | None = None):
        self.build, self.variants, self.chat_template = build, variants, chat_template
        self.built: dict[Any, SimpleNamespace] = {}

    def checkpoint(self, tmp_path_factory, variant: Any = None) -> SimpleNamespace:
        if variant not in self.built:
            hf_model = self.build(variant)
            template = self.chat_template
            if isinstance(template, Mapping):
                template = template.get(variant)
            folder = save_tiny_hf(hf_model, tmp_path_factory.mktemp(str(variant or "tiny")),
                                  template.read_text(encoding="utf-8") if template else None)
            loaded = load_exact(folder)
            self.built[variant] = SimpleNamespace(variant=variant, hf=hf_model, folder=folder, loaded=loaded,
                                                  model=loaded.model)
        return self.built[variant]

    def fixture(self):
        """The module's `tiny` fixture, parametrised over the variants (when there are several)."""
        params = None if self.variants == (None,) else self.variants

        @pytest.fixture(scope="module", params=params, ids=str)
        def tiny(request, tmp_path_factory) -> SimpleNamespace:
            return self.checkpoint(tmp_path_factory, getattr(request, "param", None))

        return tiny


# -- the paged-cache scenarios ----------------------------------------------------------------------

class Checker:
    """Runs batches and compares each row's logits with the HF model's logits for that position."""

    def __init__(self, tiny, pages: PagedLayout, cache):
        self.tiny, self.pages, self.cache = tiny, pages, cache
        self.references: dict[tuple[int, ...], torch.Tensor] = {}

    def reference(self, seq: PagedSequence) -> torch.Tensor:
        key = tuple(seq.token_ids)
        if key not in self.references:
            self.references[key] = hf_logits(self.tiny.hf, seq.token_ids)
        return self.references[key]

    def step(self, work: list[tuple[PagedSequence, int]]) -> torch.Tensor:
        batch, rows = self.pages.step(work)
        with torch.inference_mode():
            hidden = self.tiny.model.forward(batch, self.cache)
            logits = self.tiny.model.compute_logits(hidden[batch.logits_indices])
        assert logits.dtype == torch.float32
        expected = torch.stack([self.reference(seq)[position] for seq, position in rows])
        torch.testing.assert_close(logits, expected, **TOLERANCE)
        return logits


def whole_prefill(check: Checker, pages: PagedLayout) -> None:
    seq = pages.sequence(tokens(1, 19))
    check.step([(seq, 19)])


def decode_step_by_step(check: Checker, pages: PagedLayout) -> None:
    seq = pages.sequence(tokens(2, 21))
    check.step([(seq, 5)])
    for _ in range(16):
        check.step([(seq, 1)])
    assert len(set(seq.block_table)) == 6


def prefix_cache_hit(check: Checker, pages: PagedLayout) -> None:
    first = pages.sequence(tokens(3, 18))
    check.step([(first, 18)])
    shared = first.token_ids[:12]
    # 12 cached tokens (3 blocks) + a 7-token suffix: a chunk attending to a prefix it did not compute.
    second = pages.sequence(shared + tokens(4, 7), share_prefix_of=first, shared_blocks=3)
    check.step([(second, 7)])
    # A hit that leaves one new token goes down the decode path.
    third = pages.sequence(shared + tokens(5, 1), share_prefix_of=first, shared_blocks=3)
    check.step([(third, 1)])
    assert second.block_table[:3] == third.block_table[:3] == first.block_table[:3]


def mixed_prefill_and_decode_batch(check: Checker, pages: PagedLayout) -> None:
    decoders = [pages.sequence(tokens(10 + i, 16)) for i in range(3)]
    for i, seq in enumerate(decoders):
        check.step([(seq, 6 + 3 * i)])  # different lengths: 6, 9, 12
    chunked = pages.sequence(tokens(20, 23))
    check.step([(chunked, 6)])  # first chunk of a chunked prefill
    # Decodes on both sides of the prefill chunk.
    check.step([(decoders[0], 1), (chunked, 7), (decoders[1], 1), (decoders[2], 1)])
    check.step([(chunked, 9), (decoders[0], 1), (decoders[2], 1)])
    check.step([(decoders[1], 1), (decoders[0], 1), (chunked, 1)])


def batched_decode_of_different_lengths(check: Checker, pages: PagedLayout) -> None:
    seqs = [pages.sequence(tokens(30 + i, 24)) for i in range(4)]
    for seq, prompt in zip(seqs, (3, 9, 14, 17)):
        check.step([(seq, prompt)])
    for _ in range(6):
        check.step([(seq, 1) for seq in seqs])


def preempted_sequence_recomputes_the_same_logits(check: Checker, pages: PagedLayout) -> None:
    seq = pages.sequence(tokens(40, 16))
    first_run = [check.step([(seq, 8)])]
    first_run += [check.step([(seq, 1)]) for _ in range(4)]
    blocks_before = list(seq.block_table)
    pages.preempt(seq)
    recomputed = check.step([(seq, 12)])
    assert not set(seq.block_table) & set(blocks_before)
    torch.testing.assert_close(recomputed, torch.cat(first_run), **TOLERANCE)
    for _ in range(4):
        check.step([(seq, 1)])


PAGED_SCENARIOS = (whole_prefill, decode_step_by_step, prefix_cache_hit, mixed_prefill_and_decode_batch,
                   batched_decode_of_different_lengths, preempted_sequence_recomputes_the_same_logits)


@pytest.mark.parametrize("scenario", PAGED_SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_paged_logits_match_transformers(scenario, check, pages):
    scenario(check, pages)


# -- the checkpoint in other forms ------------------------------------------------------------------

def rewritten_checkpoint(like: Path, folder: Path, tensors: Mapping[str, torch.Tensor],
                         config_changes: Mapping[str, Any] | None = None) -> Path:
    """A copy of the HF folder `like` whose weights are `tensors` (and config.json has `config_changes`)."""
    shutil.copytree(like, folder)
    for file in Path(folder).glob("*.safetensors"):
        file.unlink()
    save_file({name: t.contiguous() for name, t in tensors.items()}, Path(folder) / "model.safetensors",
              metadata={"format": "pt"})
    if config_changes:
        config = json.loads((Path(folder) / "config.json").read_text())
        (Path(folder) / "config.json").write_text(json.dumps(config | dict(config_changes)))
    return Path(folder)


def assert_stacked_experts_load(tiny, folder: Path) -> None:
    """The checkpoint in transformers' in-memory layout (a layer's experts stacked in gate_up_proj
    [E, 2I, H] and down_proj [E, H, I]; a `block_sparse_moe.` block named `mlp.`) loads the same:
    our logits are transformers'."""
    state = tiny.hf.state_dict()
    assert any(name.endswith("experts.gate_up_proj") for name in state)
    stacked = load_exact(rewritten_checkpoint(tiny.folder, folder / "stacked", state))
    assert_logits_match(stacked.model, tiny.hf, tokens(60, 20), (12, 1, 7))


def quantize_fp8(weight: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """weight [out, in] -> (float8 e4m3 values, scale_inv [ceil(out / block), ceil(in / block)], the
    weight they stand for), each block x block tile scaled so its largest value is float8's largest."""
    rows, cols = weight.shape
    tiles = torch.zeros(-(-rows // block) * block, -(-cols // block) * block)
    tiles[:rows, :cols] = weight.abs()
    scales = tiles.unflatten(0, (-1, block)).unflatten(2, (-1, block)).amax(dim=(1, 3))
    scales = scales.clamp(min=1e-12) / torch.finfo(torch.float8_e4m3fn).max
    expanded = scales.repeat_interleave(block, 0).repeat_interleave(block, 1)[:rows, :cols]
    values = (weight / expanded).to(torch.float8_e4m3fn)
    return values, scales, values.float() * expanded


def assert_fp8_checkpoint_loads_dequantized(tiny, folder: Path, block: int) -> None:
    """The tiny checkpoint as the FP8 releases ship (every linear weight but the embeddings, lm_head
    and routers in float8 with a `_scale_inv` per block x block tile; quantization_config "fp8")
    loads as its dequantized weights: our logits are transformers' on those weights."""
    stored, dequantized = {}, {}
    for name, weight in load_file(tiny.folder / "model.safetensors").items():
        if weight.dim() != 2 or "embed_tokens" in name or "lm_head" in name or name.endswith("gate.weight"):
            stored[name] = dequantized[name] = weight
            continue
        stored[name], stored[name + "_scale_inv"], dequantized[name] = quantize_fp8(weight, block)
    fp8 = rewritten_checkpoint(tiny.folder, folder / "fp8", stored, {"quantization_config": {
        "quant_method": "fp8", "fmt": "float8_e4m3fn", "activation_scheme": "dynamic",
        "weight_block_size": [block, block]}})
    reference = transformers.AutoModelForCausalLM.from_pretrained(
        rewritten_checkpoint(tiny.folder, folder / "dequantized", dequantized), dtype=torch.float32,
        attn_implementation="eager").eval()
    ids = tokens(7, 24)
    assert (hf_logits(reference, ids) - hf_logits(tiny.hf, ids)).abs().max() > 1e-2  # the FP8 rounding shows
    assert_logits_match(load_exact(fp8).model, reference, ids, (16, 1, 7))

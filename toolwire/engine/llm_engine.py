"""LLMEngine: the synchronous core. add_request / abort_request, and step() runs one batch.

A step fails as a whole only when the batch's forward pass does; a failure in the work done for one
sequence (its sampling, its constraint, turning its token into text) ends that sequence alone, with
finish_reason "error".
"""

from __future__ import annotations

import logging
import uuid
from typing import Iterable

import torch

from toolwire.engine.block_manager import BlockManager
from toolwire.engine.config import EngineConfig
from toolwire.engine.cuda_graphs import DecodeGraphs, default_graph_batch_sizes
from toolwire.engine.failure import SequenceFailure
from toolwire.engine.model_runner import ModelRunner
from toolwire.engine.output_processor import OutputProcessor
from toolwire.engine.outputs import Completion, RequestOutput
from toolwire.engine.sampler import Sampler
from toolwire.engine.sampling_params import SamplingParams
from toolwire.engine.scheduler import Scheduler
from toolwire.engine.sequence import Sequence

logger = logging.getLogger(__name__)


class LLMEngine:
    def __init__(self, config: EngineConfig | None = None, loaded_model=None):
        """loaded_model: a toolwire.models LoadedModel; None loads config.model."""
        self.config = config = config or EngineConfig()
        self.loaded_model = loaded_model = config.load_model() if loaded_model is None else loaded_model
        self.tokenizer = loaded_model.tokenizer
        self.eos_token_ids = set(loaded_model.eos_token_ids)
        model, model_config = loaded_model.model, loaded_model.config
        self.device, dtype = model_device_and_dtype(model)
        self.vocab_size = model_config.vocab_size
        # The tokens that can be drawn: the lm_head may have padding rows past the tokenizer's vocabulary.
        self.sampled_vocab_size = min(self.vocab_size, _tokenizer_vocab_size(self.tokenizer) or self.vocab_size)

        block_size = config.block_size
        num_blocks = int(config.kv_cache_memory * 2**30) // _kv_bytes_per_block(model, model_config, block_size, dtype)
        self.max_model_len = min(config.max_model_len or model_config.max_position_embeddings,
                                 (num_blocks - 1) * block_size)
        if config.max_model_len and self.max_model_len < config.max_model_len:
            logger.warning("max_model_len cut to %d: the KV cache holds no more", self.max_model_len)
        max_batched = config.max_num_batched_tokens or (8192 if self.device.type == "cuda" else 512)
        self.block_manager = BlockManager(num_blocks, block_size, config.enable_prefix_caching)
        self.scheduler = Scheduler(self.block_manager, config.max_num_seqs, max_batched)
        kv_cache = model.make_kv_cache(num_blocks, block_size, dtype, self.device)
        graphs = None
        if self.device.type == "cuda" and not config.enforce_eager:
            # A model whose decode step syncs with the host (an expert bank's dispatch) says so, and why.
            blocker = model.cuda_graph_blocker() if hasattr(model, "cuda_graph_blocker") else None
            if blocker:
                logger.info("decode steps run eagerly, without CUDA graphs: %s", blocker)
            else:
                sizes = config.cuda_graph_batch_sizes or default_graph_batch_sizes(config.max_num_seqs)
                max_blocks = -(-self.max_model_len // block_size)
                graphs = DecodeGraphs(model, kv_cache, sizes, max_blocks, self.device)
        self.runner = ModelRunner(model, kv_cache, block_size, self.vocab_size,
                                  Sampler(self.eos_token_ids, config.seed, self.device, self.sampled_vocab_size),
                                  self.device, graphs)
        self._requests: dict[str, list[Sequence]] = {}
        self._processors: dict[int, OutputProcessor] = {}
        self.num_aborted_seqs = 0
        self.num_failed_seqs = 0
        self.num_step_errors = 0

    # -- requests ---------------------------------------------------------------------------------

    def validate_request(self, prompt_token_ids: list[int], params: SamplingParams) -> None:
        """Raise ValueError if the request cannot be served (thread-safe: reads config only)."""
        if not prompt_token_ids:
            raise ValueError("the prompt is empty")
        if len(prompt_token_ids) >= self.max_model_len:
            raise ValueError(f"the prompt has {len(prompt_token_ids)} tokens; this model's context "
                             f"allows fewer than {self.max_model_len}")
        if min(prompt_token_ids) < 0 or max(prompt_token_ids) >= self.vocab_size:
            raise ValueError("the prompt holds token ids outside the vocabulary")
        for token_id in list(params.logit_bias or ()) + list(params.stop_token_ids):
            if not 0 <= token_id < self.vocab_size:
                raise ValueError(f"token id {token_id} is outside the vocabulary")

    def add_request(self, request_id: str, prompt_token_ids: list[int],
                    params: SamplingParams | None = None) -> None:
        params = params or SamplingParams()
        if request_id in self._requests:
            raise ValueError(f"request id {request_id!r} is already in use")
        self.validate_request(prompt_token_ids, params)
        seqs = []
        for index in range(params.n):
            generator = None
            if params.seed is not None:
                generator = torch.Generator(device=self.device).manual_seed(_choice_seed(params.seed, index))
            constraint = params.constraint_factory() if params.constraint_factory else None
            seq = Sequence(request_id, prompt_token_ids, params, index, generator, constraint)
            processor = OutputProcessor(seq, self.tokenizer, self.eos_token_ids, self.max_model_len)
            self._processors[seq.seq_id] = processor
            if hasattr(constraint, "limit_tokens"):  # it can end its output within the budget
                constraint.limit_tokens(processor.max_len - seq.num_prompt_tokens)
            seqs.append(seq)
        self._requests[request_id] = seqs
        for seq in seqs:
            self.scheduler.add(seq)

    def abort_request(self, request_id: str) -> list[RequestOutput]:
        """Drop a request wherever it is, freeing its blocks; returns its "abort" outputs."""
        outputs = []
        for seq in list(self._requests.get(request_id, ())):
            outputs.append(self._processors[seq.seq_id].aborted())
            self._finish(seq)
        self.num_aborted_seqs += len(outputs)
        return outputs

    def has_request(self, request_id: str) -> bool:
        return request_id in self._requests

    def has_unfinished_requests(self) -> bool:
        return self.scheduler.has_unfinished()

    # -- stepping ---------------------------------------------------------------------------------

    def step(self) -> list[RequestOutput]:
        """One batch: one output per sequence that got a token. Raises only if the whole step failed."""
        try:
            return self._step()
        except Exception:
            self.num_step_errors += 1
            raise

    def _step(self) -> list[RequestOutput]:
        batch = self.scheduler.schedule()
        if batch.is_empty:
            return []
        sample_seqs, sampled = self.runner.run(batch)
        for seq, num_new in zip(batch.seqs, batch.num_new_tokens):
            seq.num_computed_tokens += num_new
            self.block_manager.commit_full_blocks(seq)
        if sampled is None:
            return []
        outputs = []
        for seq, token_id, logprobs, failure in zip(sample_seqs, sampled.token_ids, sampled.logprobs,
                                                    sampled.failures):
            output = self._next_output(seq, token_id, logprobs, failure)
            outputs.append(output)
            if output.finished:
                self._finish(seq)
        return outputs

    def _next_output(self, seq: Sequence, token_id: int, logprobs,
                     failure: SequenceFailure | None) -> RequestOutput:
        """The sequence's output for its new token; a failure (the runner's, or one while turning the
        token into text and checking for the end) ends it with finish_reason "error"."""
        processor = self._processors[seq.seq_id]
        if failure is None:
            try:
                return processor.process(token_id, logprobs)
            except Exception as error:
                logger.exception("request %s: processing token %d failed", seq.request_id, token_id)
                failure = SequenceFailure.from_exception("processing the new token", error)
        self.num_failed_seqs += 1
        return processor.failed(failure)

    def generate(self, prompts: Iterable[list[int]],
                 params: SamplingParams | list[SamplingParams] | None = None) -> list[list[Completion]]:
        """Run prompts to completion; for each, its n completions (a convenience for batch use)."""
        prompts = list(prompts)
        if not isinstance(params, list):
            params = [params or SamplingParams()] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError("give one SamplingParams, or one per prompt")
        ids = [f"generate-{uuid.uuid4().hex}" for _ in prompts]
        results = {rid: [Completion(index=k) for k in range(p.n)] for rid, p in zip(ids, params)}
        for rid, prompt, p in zip(ids, prompts, params):
            self.add_request(rid, prompt, p)
        while any(self.has_request(rid) for rid in ids):
            for output in self.step():
                if output.request_id in results:
                    results[output.request_id][output.index].add(output)
        return [results[rid] for rid in ids]

    def stats(self) -> dict[str, int]:
        return {
            "num_requests": len(self._requests),
            "num_running": len(self.scheduler.running),
            "num_waiting": len(self.scheduler.waiting),
            "num_free_blocks": self.block_manager.num_free_blocks,
            "num_usable_blocks": self.block_manager.num_usable_blocks,
            "num_preemptions": self.scheduler.num_preemptions,
            "num_aborted_seqs": self.num_aborted_seqs,
            "num_failed_seqs": self.num_failed_seqs,
            "num_step_errors": self.num_step_errors,
        }

    def _finish(self, seq: Sequence) -> None:
        self.scheduler.finish(seq)
        del self._processors[seq.seq_id]
        seqs = self._requests[seq.request_id]
        seqs.remove(seq)
        if not seqs:
            del self._requests[seq.request_id]


def _choice_seed(seed: int, index: int) -> int:
    # Choice 0 uses the seed itself; the others get distinct streams derived from it.
    return seed if index == 0 else hash((seed, index)) & (2**63 - 1)


def _tokenizer_vocab_size(tokenizer) -> int | None:
    """One past the tokenizer's highest token id (added tokens included), or None without a tokenizer."""
    if tokenizer is None:
        return None
    return max(len(tokenizer), max(tokenizer.get_vocab().values(), default=-1) + 1)


def model_device_and_dtype(model) -> tuple[torch.device, torch.dtype]:
    """Where the model runs and its compute dtype: that of its first floating-point tensor."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    raise ValueError("the model has no floating-point weights to take a device and dtype from")


def _kv_bytes_per_block(model, model_config, block_size: int, dtype: torch.dtype) -> int:
    helper = getattr(model, "kv_cache_bytes_per_block", None)
    if helper is not None:
        return helper(block_size, dtype)
    per_token = 2 * model_config.num_layers * model_config.num_kv_heads * model_config.head_dim
    return per_token * block_size * dtype.itemsize

"""Sampler: turns a batch of float32 logits into the next token of each sequence.

Everything is vectorised over the batch; per sequence there is only the gathering of its parameters,
and one uniform draw from its own generator when it was given a seed (so a seeded sequence samples the
same tokens whatever else shares the batch). Order: logit bias, min_tokens suppression, penalties,
temperature; logprobs are taken from that distribution; then top-k, top-p and min-p cut it and a
token is drawn by inverting the cumulative distribution at one uniform draw per sequence.

Whatever the sampling values, the drawn token is one the masks allow (the real vocabulary: never
an lm_head padding row; the constraint; min_tokens; logit_bias): penalties and temperature may
overflow float32, but that only reweighs the allowed tokens (see _finite_candidates). A row the
masks leave no token ends its sequence with a failure instead of a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from toolwire.engine.failure import NO_ALLOWED_TOKEN, SequenceFailure
from toolwire.engine.sequence import Sequence


@dataclass
class TokenLogprobs:
    token_id: int
    logprob: float
    # The most likely tokens of the same distribution, best first: (token id, logprob).
    top_logprobs: list[tuple[int, float]]


@dataclass
class SamplerOutput:
    token_ids: list[int]
    logprobs: list[TokenLogprobs | None]
    # Per row: why it got no token (its token id is then meaningless), or None.
    failures: list[SequenceFailure | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.failures:
            self.failures = [None] * len(self.token_ids)

    @classmethod
    def concat(cls, parts: list[SamplerOutput]) -> SamplerOutput:
        return cls([t for p in parts for t in p.token_ids], [lp for p in parts for lp in p.logprobs],
                   [f for p in parts for f in p.failures])


class Sampler:
    def __init__(self, eos_token_ids: set[int], seed: int = 0, device: torch.device | str = "cpu",
                 vocab_size: int | None = None):
        """vocab_size: the real vocabulary (the tokenizer's); logits columns from it on are never drawn."""
        self.eos_token_ids = sorted(eos_token_ids)
        self.vocab_size = vocab_size
        # Shared by the sequences that bring no seed; seeded ones use their own generator.
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __call__(self, logits: torch.Tensor, seqs: list[Sequence]) -> SamplerOutput:
        """The next token of each row; `logits` itself is left as it was."""
        params = [seq.params for seq in seqs]
        logits = self._vocabulary_only(logits)
        self._apply_logit_bias(logits, params)
        self._suppress_stop_tokens(logits, seqs)
        # The candidates: what the masks (vocabulary, constraint, min_tokens, a -inf or NaN bias) left.
        # Only values that can overflow need them written down before the penalties and temperature.
        allowed = logits > float("-inf") if any(_may_overflow(p) for p in params) else None
        self._apply_penalties(logits, seqs)
        greedy = [p.greedy for p in params]
        scaled = logits if all(greedy) else logits.div_(
            _column([1.0 if g else p.temperature for p, g in zip(params, greedy)], logits))
        if allowed is not None:
            _finite_candidates(scaled, allowed)
        row_max = _finite_rows(scaled)
        stuck = (row_max == float("-inf")).unsqueeze(1)
        if stuck.any():
            scaled.masked_fill_(stuck, 0.0)  # rows that fail anyway: keep them from turning the draw into NaNs
        token_ids = scaled.argmax(dim=-1) if all(greedy) else self._sample(scaled, seqs, greedy)
        token_list = token_ids.tolist()
        failures = [NO_ALLOWED_TOKEN if s else None for s in stuck.squeeze(1).tolist()]
        vocab_size = min(self.vocab_size or scaled.shape[1], scaled.shape[1])
        for row, token_id in enumerate(token_list):
            if failures[row] is None and not 0 <= token_id < vocab_size:
                failures[row] = SequenceFailure(f"the sampler drew token id {token_id}, outside the vocabulary")
        want_logprobs = any(p.logprobs is not None for p in params)
        logprobs = self._logprobs(scaled, token_ids, params) if want_logprobs else [None] * len(seqs)
        return SamplerOutput(token_list, logprobs, failures)

    def _vocabulary_only(self, logits: torch.Tensor) -> torch.Tensor:
        """A copy of the logits of the real vocabulary (no lm_head padding column) to work on."""
        if self.vocab_size is not None and self.vocab_size < logits.shape[1]:
            logits = logits[:, :self.vocab_size]
        return logits.clone()

    @staticmethod
    def _apply_logit_bias(logits: torch.Tensor, params) -> None:
        for row, p in enumerate(params):
            if p.logit_bias:
                ids = torch.tensor(list(p.logit_bias.keys()), dtype=torch.long, device=logits.device)
                values = torch.tensor(list(p.logit_bias.values()), dtype=logits.dtype, device=logits.device)
                logits[row].index_add_(0, ids, values)

    def _suppress_stop_tokens(self, logits: torch.Tensor, seqs: list[Sequence]) -> None:
        for row, seq in enumerate(seqs):
            p = seq.params
            if seq.num_output_tokens < p.min_tokens:
                banned = list(p.stop_token_ids) + ([] if p.ignore_eos else self.eos_token_ids)
                if banned:
                    logits[row, banned] = float("-inf")

    @staticmethod
    def _apply_penalties(logits: torch.Tensor, seqs: list[Sequence]) -> None:
        rows = [i for i, seq in enumerate(seqs) if seq.params.has_penalties]
        if not rows:
            return
        vocab, device = logits.shape[1], logits.device
        picked = [seqs[i] for i in rows]
        output_ids = _padded([s.output_token_ids for s in picked], vocab, device)
        counts = torch.zeros(len(rows), vocab + 1, dtype=logits.dtype, device=device)
        counts.scatter_add_(1, output_ids, torch.ones_like(output_ids, dtype=logits.dtype))
        counts = counts[:, :vocab]
        seen = counts > 0
        sub = logits[rows]
        repetition = _column([s.params.repetition_penalty for s in picked], logits)
        if any(s.params.repetition_penalty != 1.0 for s in picked):
            prompt_ids = _padded([s.token_ids[:s.num_prompt_tokens] for s in picked], vocab, device)
            in_prompt = torch.zeros(len(rows), vocab + 1, dtype=torch.bool, device=device)
            in_prompt.scatter_(1, prompt_ids, True)
            penalised = in_prompt[:, :vocab] | seen
            sub = torch.where(penalised, torch.where(sub > 0, sub / repetition, sub * repetition), sub)
        frequency = _column([s.params.frequency_penalty for s in picked], logits)
        presence = _column([s.params.presence_penalty for s in picked], logits)
        sub = sub - frequency * counts - presence * seen
        logits[rows] = sub

    def _sample(self, scaled: torch.Tensor, seqs: list[Sequence], greedy: list[bool]) -> torch.Tensor:
        rows = [i for i, g in enumerate(greedy) if not g]
        if len(rows) < len(seqs):
            token_ids = scaled.argmax(dim=-1)
        else:
            token_ids = torch.empty(len(seqs), dtype=torch.long, device=scaled.device)
        picked = [seqs[i] for i in rows]
        token_ids[rows] = _draw(scaled[rows].softmax(dim=-1), [s.params for s in picked],
                                self._uniforms(picked, scaled.device))
        return token_ids

    def _uniforms(self, seqs: list[Sequence], device: torch.device) -> torch.Tensor:
        """One U(0, 1) draw per sequence: from its own generator if seeded, else the shared one."""
        uniforms = torch.rand(len(seqs), generator=self.generator, device=device)
        for j, seq in enumerate(seqs):
            if seq.generator is not None:
                uniforms[j] = torch.rand(1, generator=seq.generator, device=device)[0]
        return uniforms

    @staticmethod
    def _logprobs(scaled: torch.Tensor, token_ids: torch.Tensor, params) -> list[TokenLogprobs | None]:
        rows = [i for i, p in enumerate(params) if p.logprobs is not None]
        logprobs = torch.log_softmax(scaled[rows], dim=-1)
        chosen_ids = token_ids[rows]
        chosen = logprobs.gather(1, chosen_ids.unsqueeze(1)).squeeze(1).tolist()
        chosen_ids = chosen_ids.tolist()
        k = min(scaled.shape[1], max(params[i].logprobs for i in rows))
        top_values, top_ids = logprobs.topk(k, dim=-1)
        top_values, top_ids = top_values.tolist(), top_ids.tolist()
        result: list[TokenLogprobs | None] = [None] * len(params)
        for j, i in enumerate(rows):
            n = params[i].logprobs
            result[i] = TokenLogprobs(chosen_ids[j], chosen[j],
                                      list(zip(top_ids[j][:n], top_values[j][:n])))
        return result


def _draw(probs: torch.Tensor, params, uniforms: torch.Tensor) -> torch.Tensor:
    """Sample one token per row of probs, after each row's top-k, top-p and min-p cuts.

    Rows with a top-k or top-p cut work on their most likely candidates only (a top-k, far cheaper
    than sorting the vocabulary); a row whose top-p set might reach past them is sorted in full.
    """
    result = torch.empty(len(params), dtype=torch.long, device=probs.device)
    cut = [j for j, p in enumerate(params) if p.top_k > 0 or p.top_p < 1.0]
    whole = [j for j, p in enumerate(params) if not (p.top_k > 0 or p.top_p < 1.0)]
    if whole:
        weights = _apply_min_p(probs[whole], [params[j] for j in whole])
        result[whole] = _inverse_cdf(weights, uniforms[whole])
    if cut:
        vocab = probs.shape[1]
        cut_params = [params[j] for j in cut]
        width = min(vocab, max([p.top_k for p in cut_params] + [_TOP_P_CANDIDATES]))
        values, ids = probs[cut].topk(width, dim=-1)
        top_p = _column([p.top_p if p.top_k == 0 else 1.0 for p in cut_params], values)
        past = (values.sum(dim=-1, keepdim=True) <= top_p).squeeze(1).tolist()
        groups = [([j for j, wide in zip(cut, past) if not wide], values, ids),
                  ([j for j, wide in zip(cut, past) if wide], None, None)]
        for group, group_values, group_ids in groups:
            if not group:
                continue
            index = [cut.index(j) for j in group]
            if group_values is None:
                group_values, group_ids = probs[group].sort(dim=-1, descending=True)
            else:
                group_values, group_ids = group_values[index], group_ids[index]
            weights = _cut_sorted(group_values, [params[j] for j in group])
            result[group] = group_ids.gather(1, _inverse_cdf(weights, uniforms[group]).unsqueeze(1)).squeeze(1)
    return result


# How many candidates a top-p-only row starts from; more are sorted only if they may not suffice.
_TOP_P_CANDIDATES = 128


def _cut_sorted(values: torch.Tensor, params) -> torch.Tensor:
    """Zero the candidates (probabilities sorted descending) that top-k, then top-p, then min-p drop."""
    ranks = torch.arange(values.shape[1], device=values.device).unsqueeze(0)
    top_k = _column([min(p.top_k, values.shape[1]) if p.top_k > 0 else values.shape[1] for p in params], ranks)
    values = values.masked_fill(ranks >= top_k, 0.0)
    kept = values / values.sum(dim=-1, keepdim=True)
    mass_before = kept.cumsum(dim=-1) - kept
    values = values.masked_fill(mass_before > _column([p.top_p for p in params], values), 0.0)
    return _apply_min_p(values, params)


def _apply_min_p(probs: torch.Tensor, params) -> torch.Tensor:
    if not any(p.min_p > 0 for p in params):
        return probs
    threshold = _column([p.min_p for p in params], probs) * probs.max(dim=-1, keepdim=True).values
    return probs.masked_fill(probs < threshold, 0.0)


def _inverse_cdf(weights: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Column index per row, drawn in proportion to the row's non-negative weights."""
    cdf = weights.cumsum(dim=-1)
    total = cdf[:, -1]
    # Strictly below the total, so the pick always lands on a token of positive weight.
    targets = torch.minimum(uniforms * total, torch.nextafter(total, torch.zeros_like(total))).unsqueeze(1)
    return torch.searchsorted(cdf, targets, right=True).squeeze(1)


def _may_overflow(params) -> bool:
    """Whether penalties, temperature or bias may turn a finite logit infinite (or NaN)."""
    return bool(params.logit_bias) or (not params.greedy and not 1e-2 <= params.temperature <= 1e2) \
        or not 1e-2 <= params.repetition_penalty <= 1e2


def _finite_rows(scaled: torch.Tensor) -> torch.Tensor:
    """Each row's largest value, after making a row with an infinite or NaN value finite in place
    (+inf: the largest float; NaN: the lowest; -inf stays a masked token)."""
    row_max = scaled.amax(dim=-1)
    bad = torch.isnan(row_max) | (row_max == float("inf"))
    if bad.any():
        finfo = torch.finfo(scaled.dtype)
        rows = bad.nonzero().squeeze(1)
        scaled[rows] = torch.nan_to_num(scaled[rows], nan=finfo.min, posinf=finfo.max, neginf=float("-inf"))
        row_max = scaled.amax(dim=-1)
    return row_max


def _finite_candidates(scaled: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """In place: every allowed entry made finite (an overflow to +inf becomes the largest float, to
    -inf or NaN the lowest) and every other entry -inf. Extreme penalties and temperatures reweigh
    the candidates but never add or remove one."""
    finfo = torch.finfo(scaled.dtype)
    torch.nan_to_num_(scaled, nan=finfo.min, posinf=finfo.max, neginf=finfo.min)
    return scaled.masked_fill_(~allowed, float("-inf"))


def _column(values: list, like: torch.Tensor) -> torch.Tensor:
    """values as a [len, 1] tensor on like's device, with like's dtype."""
    return torch.tensor(values, dtype=like.dtype, device=like.device).unsqueeze(1)


def _padded(rows: list[list[int]], pad: int, device: torch.device) -> torch.Tensor:
    width = max(1, max(len(r) for r in rows))
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long, device=device)

"""End to end on a tiny checkpoint: `toolwire serve FOLDER` as a user starts it, on a loopback port.

    assert_serves(tiny, "glm45")  # one server: the template's parser, a required call, greedy == generate

    with serving(folder) as server:
        assert_required_tool_call(server)                    # a schema-valid call, in the template's format
        assert_greedy_matches_generate(server, hf_model, prompts)  # /v1/completions == transformers' generate

The folder's chat template decides the tool-call format (a model's real template gives its real format).
The server runs the exact fp32 weights without the repetition guard, so its greedy tokens are the
model's argmax tokens and must equal transformers' generate on the same weights.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import httpx
import torch
import transformers

from tests.models.tiny_models import tiny_tokenizer
from tests.server.helpers import REPO, LiveServer, assert_valid_calls

# The vendors' chat templates the format tests keep (see its README).
REAL_TEMPLATES = REPO / "tests" / "formats" / "templates"

SERVE_ARGS = ["--device", "cpu", "--dtype", "float32", "--weights", "exact", "--no-repetition-guard",
              "--kv-cache-memory", "0.01", "--max-model-len", "2048", "--seed", "0"]

# Closed-set arguments: a random-weight model would fill a free string until max_tokens.
UNIT_TOOL = {"type": "function", "function": {
    "name": "set_unit", "description": "Set the temperature unit",
    "parameters": {"type": "object", "properties": {
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}, "daily": {"type": "boolean"}},
        "required": ["unit", "daily"], "additionalProperties": False}}}


# A short prompt (bos, "Hello") and one of 31 tokens, which spans cache blocks.
GREEDY_PROMPTS = ([0, 72, 101, 108, 108, 111], list(range(40, 71)))


def assert_serves(tiny, tool_call_parser: str, prompts=GREEDY_PROMPTS) -> None:
    """One `toolwire serve` of the tiny checkpoint (which holds a real chat template): it picks the
    template's tool-call parser, answers tool_choice "required" with a schema-valid call, and its
    greedy tokens are transformers' generate on the same weights."""
    with serving(tiny.folder) as server:
        assert f"tool-call parser: {tool_call_parser}" in server.log()
        assert_required_tool_call(server)
        assert_greedy_matches_generate(server, tiny.hf, prompts)


@contextlib.contextmanager
def serving(folder: Path, *extra_args: str) -> Iterator[LiveServer]:
    server = LiveServer(Path(folder).name, [str(folder), *SERVE_ARGS, *extra_args])
    # One thread: a tiny model gains nothing from more, and on busy cores they wait on each other (20x slower).
    with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "1"}):
        server.start()
    try:
        yield server
    finally:
        # These tests check the model, not the orderly shutdown (tests/server does): end the process at
        # once rather than wait the second and a half its orderly exit takes.
        server.process.kill()
        server.process.wait()
        server.stop()


def assert_required_tool_call(server: LiveServer, tool: dict = UNIT_TOOL) -> dict:
    """tool_choice "required": the reply is a call of the tool, its arguments valid against its schema."""
    response = httpx.post(server.base_url + "/chat/completions", timeout=120, json={
        "messages": [{"role": "user", "content": "Use Celsius, daily."}],
        "tools": [tool], "tool_choice": "required", "parallel_tool_calls": False, "temperature": 0, "max_tokens": 300})
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls", choice
    calls = choice["message"]["tool_calls"]
    assert len(calls) == 1
    assert_valid_calls(calls, [tool])
    return choice


def assert_greedy_matches_generate(server: LiveServer, hf_model: transformers.PreTrainedModel,
                                   prompts: list[list[int]], max_tokens: int = 8) -> None:
    """Each prompt (token ids) continued greedily by the server is transformers' greedy continuation,
    token by token: the same token texts and log-probabilities (the texts alone could hide a
    different token: every byte token that is not UTF-8 on its own reads as U+FFFD)."""
    tokenizer = tiny_tokenizer()
    for prompt in prompts:
        response = httpx.post(server.base_url + "/completions", timeout=120, json={
            "prompt": prompt, "temperature": 0, "max_tokens": max_tokens, "logprobs": 1})
        assert response.status_code == 200, response.text
        served = response.json()["choices"][0]["logprobs"]
        ids = torch.tensor([prompt])
        with torch.no_grad():  # an explicit mask: else generate may take a bos (id 0) equal to pad for padding
            out = hf_model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=max_tokens, output_scores=True, return_dict_in_generate=True)
        generated = out.sequences[0, len(prompt):].tolist()
        assert len(generated) > 1
        assert served["tokens"] == [tokenizer.decode([t]) for t in generated], (prompt, generated)
        expected_logprobs = [step.log_softmax(dim=-1)[0, t].item() for step, t in zip(out.scores, generated)]
        torch.testing.assert_close(torch.tensor(served["token_logprobs"]), torch.tensor(expected_logprobs),
                                   atol=1e-4, rtol=0)

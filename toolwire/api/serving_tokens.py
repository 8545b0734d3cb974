"""POST /tokenize and /detokenize (vLLM's shapes): what the server's tokenizer and template make of
a prompt or a conversation. Both run on a worker thread: tokenizing megabytes takes seconds, which
the event loop (and every other request) must not wait through."""

from __future__ import annotations

import asyncio

from fastapi.responses import Response

from toolwire.api.errors import APIError
from toolwire.api.protocol import DetokenizeRequest, DetokenizeResponse, TokenizeRequest
from toolwire.api.state import ServerState
from toolwire.api.validation import check_model


_SLICE = 65536


class TokenHandler:
    def __init__(self, state: ServerState):
        self.state = state

    async def tokenize(self, request: TokenizeRequest) -> Response:
        """A TokenizeResponse, its JSON written on the worker thread too: millions of token ids
        would take the event loop a long while to validate and encode."""
        check_model(request.model, self.state.served_names)
        return Response(await asyncio.to_thread(self._tokenize_json, request), media_type="application/json")

    async def detokenize(self, request: DetokenizeRequest) -> DetokenizeResponse:
        check_model(request.model, self.state.served_names)
        vocab = self.state.vocab_size
        bad = [t for t in request.tokens if t < 0 or (vocab is not None and t >= vocab)]
        if bad:
            raise APIError(f"token ids outside the vocabulary: {bad[:5]}", 400, param="tokens")
        return DetokenizeResponse(prompt=await asyncio.to_thread(self.state.decode, request.tokens))

    def _tokenize_json(self, request: TokenizeRequest) -> bytes:
        tokens = self._tokens(request)
        # In slices, so that other threads (the event loop's) get the interpreter in between.
        ids = ",".join([",".join(map(str, tokens[i:i + _SLICE])) for i in range(0, len(tokens), _SLICE)])
        return (f'{{"count":{len(tokens)},"max_model_len":{self.state.max_model_len},"tokens":[{ids}]}}').encode()

    def _tokens(self, request: TokenizeRequest) -> list[int]:
        if request.messages is not None:
            return self.state.render_chat_ids(request.messages, request.tools, request.add_generation_prompt,
                                              request.chat_template_kwargs)
        return self.state.encode(request.prompt or "", add_special_tokens=request.add_special_tokens)

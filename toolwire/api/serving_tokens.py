"""POST /tokenize and /detokenize (vLLM's shapes): what the server's tokenizer and template make of
a prompt or a conversation."""

from __future__ import annotations

from toolwire.api.errors import APIError
from toolwire.api.protocol import DetokenizeRequest, DetokenizeResponse, TokenizeRequest, TokenizeResponse
from toolwire.api.state import ServerState
from toolwire.api.validation import check_model


class TokenHandler:
    def __init__(self, state: ServerState):
        self.state = state

    def tokenize(self, request: TokenizeRequest) -> TokenizeResponse:
        check_model(request.model, self.state.served_names)
        if request.messages is not None:
            tokens = self.state.render_chat_ids(request.messages, request.tools, request.add_generation_prompt,
                                                request.chat_template_kwargs)
        else:
            tokens = self.state.encode(request.prompt or "", add_special_tokens=request.add_special_tokens)
        return TokenizeResponse(count=len(tokens), max_model_len=self.state.max_model_len, tokens=tokens)

    def detokenize(self, request: DetokenizeRequest) -> DetokenizeResponse:
        check_model(request.model, self.state.served_names)
        vocab = self.state.vocab_size
        bad = [t for t in request.tokens if t < 0 or (vocab is not None and t >= vocab)]
        if bad:
            raise APIError(f"token ids outside the vocabulary: {bad[:5]}", 400, param="tokens")
        return DetokenizeResponse(prompt=self.state.decode(request.tokens))

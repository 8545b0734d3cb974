"""Rendering a chat template: Hugging Face's conventions, and render errors as ChatTemplateError.

The rendering itself is transformers' `render_jinja_template`, the function behind the tokenizers'
`apply_chat_template`: a sandboxed jinja2 environment with `trim_blocks`/`lstrip_blocks`, the
`raise_exception` and `strftime_now` globals, HF's `tojson` filter (no HTML escaping, `indent`,
`separators`, `sort_keys`) and the `{% generation %}` tag, and `continue_final_message` as HF (and
so vLLM) implement it. Using it means a prompt renders exactly as `apply_chat_template` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from transformers.utils.chat_template_utils import render_jinja_template

# Names the renderer itself passes; a request's chat_template_kwargs may not replace them.
RESERVED_TEMPLATE_NAMES = frozenset(
    {"messages", "tools", "documents", "add_generation_prompt", "continue_final_message", "chat_template",
     "conversations", "return_assistant_tokens_mask"}
)
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")


class PromptError(ValueError):
    """The request's messages cannot become a prompt; the server answers 400 with this message."""


class ChatTemplateError(PromptError):
    """The chat template could not render this conversation (it raised, or failed on the input)."""


def special_tokens_of(tokenizer: Any) -> dict[str, str]:
    """The special tokens a template sees (`bos_token`, `eos_token`, ...), as apply_chat_template passes them."""
    tokens = {}
    for name in SPECIAL_TOKEN_NAMES:
        value = getattr(tokenizer, name, None)
        if value is not None:
            tokens[name] = str(value)
    return tokens


def render_template(
    template: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
    special_tokens: Mapping[str, str] | None = None,
    template_kwargs: Mapping[str, Any] | None = None,
) -> str:
    """Render `template` over template-ready message dicts; any failure becomes ChatTemplateError."""
    if continue_final_message and add_generation_prompt:
        raise ChatTemplateError("continue_final_message and add_generation_prompt cannot both be true")
    if not messages:
        raise ChatTemplateError("the conversation is empty")
    kwargs = dict(special_tokens or {})
    for name, value in (template_kwargs or {}).items():
        if name in RESERVED_TEMPLATE_NAMES:
            raise ChatTemplateError(f"chat_template_kwargs may not set {name!r}")
        kwargs[name] = value
    try:
        rendered, _ = render_jinja_template(
            conversations=[list(messages)],
            tools=list(tools) if tools else None,
            chat_template=template,
            continue_final_message=continue_final_message,
            add_generation_prompt=add_generation_prompt,
            **kwargs,
        )
    except Exception as error:  # template code is arbitrary: any error it raises is a bad request
        raise ChatTemplateError(f"the chat template could not render these messages: {_describe(error)}") from error
    return rendered[0]


def _describe(error: Exception) -> str:
    text = str(error).strip()
    if isinstance(error, jinja2.TemplateError) and type(error) is jinja2.TemplateError:
        return text  # the template's own raise_exception(message)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

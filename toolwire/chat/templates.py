"""Which chat template a server uses: the model's own, its named `tool_use` one, a shipped one, a file
or a literal jinja string (the `--chat-template` option).

toolwire ships tool-capable templates in `toolwire/templates/` for the families whose models need one
(`--chat-template hermes`). The paths the vLLM docs use resolve to ours by basename when they do not
exist: `examples/tool_chat_template_llama3.1_json.jinja` -> `llama3.1_json`. Any other path that does
not exist is an error naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers.utils.chat_template_utils import _compile_jinja_template

from toolwire.chat.rendering import ChatTemplateError

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
TOOL_USE = "tool_use"
DEFAULT = "default"

# Shipped templates that are another shipped template with some of its variables set.
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "mistral_parallel": ("mistral", {
        "tool_use_system_prompt": (
            "You can call the tools listed in [AVAILABLE_TOOLS] when they help answer the user; otherwise "
            "answer directly. Use each tool's exact name and give every required argument. When several "
            "calls are needed, make them all at once, in a single [TOOL_CALLS] list: "
            '[TOOL_CALLS] [{"name": "first_tool", "arguments": {...}}, {"name": "second_tool", "arguments": {...}}]'
        ),
    }),
    "toolace": ("llama3.2_pythonic", {
        "tool_instruction": (
            "You are an expert in composing function calls. Given a question and the functions below, make the "
            "function call(s) that achieve its purpose. If none of the functions can be used, point it out; if "
            "the question lacks an argument a function requires, point that out too. Reply with the calls "
            "only, in the format [func_name1(params_name1=params_value1, params_name2=params_value2...), "
            "func_name2(params)], and no other text."
        ),
    }),
}
ALIASES = {
    "llama3_json": "llama3.1_json",
    "llama3.2_json": "llama3.1_json",
    "granite-20b-fc": "granite_20b_fc",
    "internlm": "internlm2_tool",
    "internlm2": "internlm2_tool",
    "pythonic": "llama3.2_pythonic",
}
_VLLM_PREFIX = "tool_chat_template_"


class ChatTemplateNotFound(ChatTemplateError):
    """The --chat-template value names no file, no shipped template and is not a template itself."""


@dataclass(frozen=True)
class ChatTemplate:
    text: str
    source: str  # for the startup log: "model", "model tool_use", "shipped hermes", "file ...", "literal"
    # The model's named tool_use template, which Hugging Face uses for requests that carry tools.
    tool_use_text: str | None = None

    def for_request(self, has_tools: bool) -> str:
        return self.tool_use_text if has_tools and self.tool_use_text else self.text

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.text,) + ((self.tool_use_text,) if self.tool_use_text else ())


def shipped_template_names() -> list[str]:
    return sorted([path.stem for path in TEMPLATE_DIR.glob("*.jinja")] + list(VARIANTS))


def shipped_template(name: str) -> str:
    """The text of a shipped template, by name or alias."""
    canonical = _shipped_name(name)
    if canonical is None:
        raise ChatTemplateNotFound(
            f"no shipped chat template named {name!r}; shipped templates: {', '.join(shipped_template_names())}"
        )
    if canonical in VARIANTS:
        base, variables = VARIANTS[canonical]
        preamble = "".join(f"{{%- set {key} = {json.dumps(value)} -%}}\n" for key, value in variables.items())
        return preamble + shipped_template(base)
    return (TEMPLATE_DIR / f"{canonical}.jinja").read_text(encoding="utf-8")


def named_templates(model_template: str | Mapping[str, str] | list[dict[str, Any]] | None) -> dict[str, str]:
    """A model's chat templates by name ("default", "tool_use", ...), from any of the shapes they come in:
    one string, a dict by name (a tokenizer's `chat_template`), or tokenizer_config.json's list of
    `{"name": ..., "template": ...}`."""
    if model_template is None:
        return {}
    if isinstance(model_template, str):
        return {DEFAULT: model_template}
    if isinstance(model_template, Mapping):
        return {str(name): text for name, text in model_template.items() if text}
    return {entry["name"]: entry["template"] for entry in model_template if entry.get("template")}


def read_model_templates(source: str | Path) -> dict[str, str]:
    """The named chat templates of a model on disk: a Hugging Face folder or a GGUF file."""
    path = Path(source)
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_templates(path)
    templates: dict[str, str] = {}
    config_file = path / "tokenizer_config.json"
    if config_file.is_file():
        templates.update(named_templates(json.loads(config_file.read_text(encoding="utf-8")).get("chat_template")))
    if (path / "chat_template.jinja").is_file():
        templates[DEFAULT] = (path / "chat_template.jinja").read_text(encoding="utf-8")
    for extra in sorted((path / "additional_chat_templates").glob("*.jinja")):
        templates[extra.stem] = extra.read_text(encoding="utf-8")
    return templates


def resolve_chat_template(
    option: str | None, model_template: str | Mapping[str, str] | list[dict[str, Any]] | None = None
) -> ChatTemplate:
    """The template for `--chat-template option` (None: the model's own) and the model's templates.

    `option` is, in this order: `tool_use` (the model's named tool-use template), another name among
    the model's templates, an existing file, a shipped template's name, a jinja template string, or
    the path of one of vLLM's example templates (`tool_chat_template_<shipped name>.jinja`).
    """
    model_templates = named_templates(model_template)
    if option is None:
        return _checked(
            ChatTemplate(_model_default(model_templates), "model", tool_use_text=model_templates.get(TOOL_USE))
        )
    if option in model_templates:
        return _checked(ChatTemplate(model_templates[option], f"model {option}"))
    if option == TOOL_USE:
        names = ", ".join(sorted(model_templates)) or "none"
        raise ChatTemplateNotFound(
            f"--chat-template tool_use: the model has no template named tool_use (its templates: {names})"
        )
    path = Path(option).expanduser()
    if _is_file(path):
        return _checked(ChatTemplate(path.read_text(encoding="utf-8"), f"file {path}"))
    looks_like_path = path.name != option or option.endswith(".jinja")
    canonical = _shipped_name(_vllm_example_name(path) if looks_like_path else option)
    if canonical is not None:
        return _checked(ChatTemplate(shipped_template(canonical), f"shipped {canonical}"))
    if "{{" in option or "{%" in option:
        return _checked(ChatTemplate(option, "literal"))
    if looks_like_path:
        raise ChatTemplateNotFound(
            f"--chat-template {option!r}: there is no file at that path (a shipped template is chosen by "
            f"its name alone: {', '.join(shipped_template_names())})"
        )
    raise ChatTemplateNotFound(
        f"--chat-template {option!r} is not a file, a jinja template or a shipped template name; "
        f"shipped templates: {', '.join(shipped_template_names())}"
    )


def _model_default(model_templates: dict[str, str]) -> str:
    if not model_templates:
        raise ChatTemplateNotFound(
            "the model has no chat template; pass --chat-template (a file, a jinja string, or one of the "
            f"shipped templates: {', '.join(shipped_template_names())})"
        )
    if DEFAULT in model_templates:
        return model_templates[DEFAULT]
    if len(model_templates) == 1:
        return next(iter(model_templates.values()))
    raise ChatTemplateNotFound(
        f"the model has several chat templates and none named default ({', '.join(sorted(model_templates))}); "
        "pick one with --chat-template NAME"
    )


def _shipped_name(name: str) -> str | None:
    name = ALIASES.get(name, name)
    return name if name in shipped_template_names() else None


def _vllm_example_name(path: Path) -> str:
    """`llama3.1_json` for vLLM's `examples/tool_chat_template_llama3.1_json.jinja`; "" for other paths."""
    name = path.name
    if name.startswith(_VLLM_PREFIX) and name.endswith(".jinja"):
        return name.removeprefix(_VLLM_PREFIX).removesuffix(".jinja")
    return ""


def _gguf_templates(path: Path) -> dict[str, str]:
    # GGUF keeps the default template under tokenizer.chat_template and named ones under
    # tokenizer.chat_template.<name> (their names listed in tokenizer.chat_templates).
    from toolwire.models.gguf_file import GGUFFile

    templates = {}
    for key, value in GGUFFile(path).metadata.items():
        if key == "tokenizer.chat_template":
            templates[DEFAULT] = value
        elif key.startswith("tokenizer.chat_template."):
            templates[key.removeprefix("tokenizer.chat_template.")] = value
    return templates


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a template string is no valid path (too long, NUL, ...)
        return False


def _checked(template: ChatTemplate) -> ChatTemplate:
    """Fail at startup, not at the first request, on a template that is not valid jinja."""
    for text in template.texts:
        try:
            _compile_jinja_template(text)  # the environment rendering uses (and caches)
        except Exception as error:
            raise ChatTemplateError(f"chat template ({template.source}) is not valid jinja: {error}") from None
    return template

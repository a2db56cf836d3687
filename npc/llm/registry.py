"""Build the LLM named by a config's [brain.llm] table, checking every option first."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from npc.llm.base import Llm

# kind -> ("module:Class", {option: (accepted types, constructor argument)})
_Options = dict[str, tuple[tuple[type, ...], str]]
_COMMON: _Options = {
    "steerlm": ((bool,), "steerlm"),  # the model was trained on the SteerLM format
}
# Base-class settings, set on the built backend rather than passed to it.
_TIMING: _Options = {
    "retries": ((int,), "retries"),
    "first_piece_timeout_s": ((int, float), "first_piece_timeout_s"),
    "stall_timeout_s": ((int, float), "stall_timeout_s"),
}
KINDS: dict[str, tuple[str, _Options]] = {
    "llama": (
        "npc.llm.llama:LlamaCppLlm",
        {
            "model": ((str,), "model"),  # "" = the embedded Qwen2.5-Coder-0.5B
            "n_ctx": ((int,), "n_ctx"),
            "threads": ((int,), "n_threads"),
            "n_batch": ((int,), "n_batch"),
            "prefix_cache_mb": ((int,), "prefix_cache_mb"),
            "lookahead": ((int,), "lookahead"),  # tokens drafted from the context; 0 = off
            "fast_weights": ((bool,), "fast_weights"),  # the embedded model's IQ4_NL FFN
            "lore_cache_mb": ((int,), "lore_cache_mb"),  # the lore's KV cells kept; 0 = off
        },
    ),
    "openai": (
        "npc.llm.openai:OpenAiLlm",
        {
            "url": ((str,), "url"),
            "model": ((str,), "model"),
            "schema_mode": ((str,), "schema_mode"),
            "api_key": ((str,), "api_key"),
            "api_key_env": ((str,), "api_key_env"),
            "timeout_s": ((int, float), "timeout_s"),
            "connect_timeout_s": ((int, float), "connect_timeout_s"),
            "extra": ((dict,), "extra"),
            "prefix_reuse": ((bool,), "prefix_reuse"),
        },
    ),
    "trtllm": (
        "npc.llm.trtllm:TrtLlm",
        {
            "model": ((str,), "model"),
            "guided_backend": ((str,), "guided_backend"),
            "max_tokens_in_kv": ((int,), "max_tokens_in_kv"),
            "args": ((dict,), "**"),  # passed on to tensorrt_llm.LLM as keyword arguments
        },
    ),
}


def build_llm(table: dict[str, Any], base: Path | None = None) -> Llm:
    """The backend of `table["kind"]` ("llama" by default) built from the other keys.

    A relative GGUF `model` path is taken from `base` (the config file's folder). An
    unknown kind or option, or a value of the wrong type, is a ConfigError naming it.
    """
    kind = table.get("kind", "llama")
    if kind not in KINDS:
        raise ConfigError(f"[brain.llm] kind '{kind}' is unknown; known: {', '.join(KINDS)}")
    path, own = KINDS[kind]
    allowed = {**own, **_COMMON, **_TIMING}
    kwargs: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    for key, value in table.items():
        if key == "kind":
            continue
        if key not in allowed:
            raise ConfigError(
                f"[brain.llm] option '{key}' is unknown for kind '{kind}'; "
                f"known: {', '.join(sorted(allowed))}"
            )
        types, arg = allowed[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"[brain.llm] {key} must be {names}, not {value!r}")
        if key in _TIMING:
            timing[arg] = value
        elif arg == "**":
            kwargs.update(table[key])
        else:
            kwargs[arg] = value
    if kind == "llama" and kwargs.get("model") and base is not None:
        kwargs["model"] = str(base / Path(kwargs["model"]).expanduser())
    module, _, attr = path.partition(":")
    llm: Llm = getattr(importlib.import_module(module), attr)(**kwargs)
    for name, value in timing.items():
        setattr(llm, name, value)
    return llm

"""TensorRT-LLM in process (tensorrt_llm.LLM) on an NVIDIA GPU, with guided JSON decoding."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from typing import Any

from bridge.errors import BackendError, ConfigError
from npc.llm.base import Llm, LlmCapabilities, LlmRequest

INSTALL_HINT = (
    'pip install "npc-bridge[trtllm]" (Linux with an NVIDIA GPU and CUDA only; '
    "it does not install on CPU-only machines)"
)


def import_trtllm() -> tuple[Any, Any]:
    """`tensorrt_llm` and `tensorrt_llm.llmapi`, or a ConfigError with the install hint."""
    try:
        return importlib.import_module("tensorrt_llm"), importlib.import_module(
            "tensorrt_llm.llmapi"
        )
    except ImportError as e:
        raise ConfigError(f"TensorRT-LLM is not installed ({e}): {INSTALL_HINT}") from e
    except Exception as e:  # installed but broken: no GPU, CUDA driver mismatch
        raise ConfigError(f"TensorRT-LLM does not load here: {e}: {INSTALL_HINT}") from e


class TrtLlm(Llm):
    """A Hugging Face checkpoint or TensorRT engine folder served by tensorrt_llm.LLM.

    Requests stream through `generate_async(..., streaming=True)`; a schema becomes
    `GuidedDecodingParams(json=schema)` (xgrammar); KV blocks of a shared prompt prefix
    are reused across requests (`enable_block_reuse`).
    """

    name = "trtllm"

    def __init__(
        self,
        model: str,
        *,
        max_tokens_in_kv: int | None = None,
        guided_backend: str = "xgrammar",
        steerlm: bool = False,
        **llm_args: Any,
    ) -> None:
        if not model:
            raise ConfigError("trtllm llm: set model to a Hugging Face model folder or engine")
        trtllm, llmapi = import_trtllm()
        self._sampling = trtllm.SamplingParams
        self._guided = llmapi.GuidedDecodingParams
        kv = llmapi.KvCacheConfig(enable_block_reuse=True, max_tokens=max_tokens_in_kv)
        try:
            self._llm = trtllm.LLM(
                model=model,
                guided_decoding_backend=guided_backend,
                kv_cache_config=kv,
                **llm_args,
            )
        except Exception as e:  # the SDK raises many kinds: bad path, OOM, CUDA errors
            raise ConfigError(f"trtllm llm: cannot load '{model}': {e}") from e
        self.capabilities = LlmCapabilities(
            json_schema=True, raw_prompt=True, prefix_reuse=True, steerlm=steerlm
        )

    def prompt(self, request: LlmRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        if not request.messages:
            raise BackendError("trtllm: the request has neither messages nor a prompt")
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        text: str = self._llm.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return text

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        d = request.decoding
        params = self._sampling(
            max_tokens=d.max_tokens,
            temperature=d.temperature,
            top_p=d.top_p,
            repetition_penalty=d.repeat_penalty,
            seed=d.seed,
            stop=list(d.stop) or None,
            guided_decoding=(
                self._guided(json=request.schema) if request.schema is not None else None
            ),
        )
        try:
            # No event loop in this worker thread, so the result iterates synchronously.
            result = self._llm.generate_async(self.prompt(request), params, streaming=True)
        except Exception as e:
            raise BackendError(f"trtllm: the request was refused: {e}", stage="llm") from e
        try:
            for output in result:
                if cancel.is_set():
                    result.abort()
                    return
                text = output.outputs[0].text_diff
                if text:
                    yield text
        except GeneratorExit:
            result.abort()
            raise
        except Exception as e:
            raise BackendError(f"trtllm: generation failed: {e}", stage="llm") from e
        if request.usage is not None:
            request.usage.prompt_tokens = len(result.prompt_token_ids)
            request.usage.completion_tokens = len(result.outputs[0].token_ids)

    def close(self) -> None:
        shutdown = getattr(self._llm, "shutdown", None)
        if callable(shutdown):
            shutdown()

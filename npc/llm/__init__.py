"""Language model backends: llama.cpp in process, OpenAI-compatible HTTP, TensorRT-LLM."""

from npc.llm.base import ChatMessage, Decoding, Llm, LlmCapabilities, LlmRequest, Usage
from npc.llm.registry import build_llm

__all__ = [
    "ChatMessage",
    "Decoding",
    "Llm",
    "LlmCapabilities",
    "LlmRequest",
    "Usage",
    "build_llm",
]

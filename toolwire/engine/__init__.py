"""The engine: requests and sequences, scheduling, the paged KV cache, model running and sampling."""

from toolwire.engine.async_engine import AsyncEngine
from toolwire.engine.config import EngineConfig
from toolwire.engine.constraint import TokenConstraint
from toolwire.engine.llm_engine import LLMEngine
from toolwire.engine.outputs import Completion, RequestOutput
from toolwire.engine.sampler import TokenLogprobs
from toolwire.engine.sampling_params import SamplingParams

__all__ = ["AsyncEngine", "Completion", "EngineConfig", "LLMEngine", "RequestOutput",
           "SamplingParams", "TokenConstraint", "TokenLogprobs"]

"""Token usage of a drive: each Messages API call's, and their sums."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CallUsage(BaseModel):
    """The tokens of one Messages API call (``input_tokens`` excludes the cached ones, as the API
    counts them)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @classmethod
    def of(cls, usage: Any) -> CallUsage:
        """From the SDK's ``Usage`` (its optional counts may be None)."""
        return cls(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_creation_input_tokens=getattr(usage, "cache_creation_input_tokens", 0) or 0,
            cache_read_input_tokens=getattr(usage, "cache_read_input_tokens", 0) or 0,
        )

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


class Usage(CallUsage):
    """The sums over every call of a drive, and each call's usage in order."""

    calls: list[CallUsage] = Field(default_factory=list)

    def add(self, call: CallUsage) -> None:
        self.calls.append(call)
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        self.cache_creation_input_tokens += call.cache_creation_input_tokens
        self.cache_read_input_tokens += call.cache_read_input_tokens


__all__ = ["CallUsage", "Usage"]

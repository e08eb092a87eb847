"""Tool results that carry a picture next to their structured content."""

from __future__ import annotations

import base64

from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import BaseModel


def with_image(
    result: BaseModel, png: bytes | None, summary: str, *, error: bool = False
) -> CallToolResult:
    """Structured content from ``result`` (validated against the tool's output schema), a short
    text summary for the model to read, and the PNG, when there is one. ``error``: the call did
    not do what was asked (nothing was checked); the result says why and is marked an error."""
    content: list[TextContent | ImageContent] = [TextContent(type="text", text=summary)]
    if png:
        content.append(
            ImageContent(
                type="image", data=base64.b64encode(png).decode("ascii"), mimeType="image/png"
            )
        )
    return CallToolResult(
        content=content, structured_content=result.model_dump(mode="json"), is_error=error
    )


__all__ = ["with_image"]

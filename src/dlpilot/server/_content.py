"""Tool results that carry a picture next to their structured content."""

from __future__ import annotations

import base64
from collections.abc import Sequence

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


def findings_summary(title: str, findings: Sequence[object]) -> str:
    """One line per finding, most severe first: what a model reads before the structured data."""
    lines = [title]
    for f in findings:
        sev = getattr(f, "severity", "")
        fid = getattr(f, "id", "")
        msg = getattr(f, "message", "")
        lines.append(f"- [{sev}] {fid}: {msg}")
    if len(lines) == 1:
        lines.append("- no findings")
    return "\n".join(lines)


__all__ = ["findings_summary", "with_image"]

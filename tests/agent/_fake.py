"""A scripted fake of the Messages API at the HTTP transport level.

The real ``anthropic.Anthropic`` client talks to it through ``httpx2.MockTransport``: every
request is parsed and recorded as the JSON body the SDK sent, and answered with the next reply of
the script, a JSON body in the Messages API's shape (or an error status). A reply can be a
function of the request, to script a model that reacts to what it was sent.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

Body = dict[str, Any]


@dataclass(frozen=True)
class HttpError:
    status: int
    kind: str
    message: str


Reply = Body | HttpError | Callable[[Body], "Body | HttpError"]

_ids = itertools.count(1)


def tool_calls(
    *calls: tuple[str, dict[str, Any]], text: str = "", usage: tuple[int, int] = (1000, 100)
) -> Body:
    """A reply that calls the tools ``calls`` (name, input), in order."""
    content: list[Body] = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": args}
        for name, args in calls
    ]
    return _message(content, "tool_use", usage)


def end_turn(text: str, usage: tuple[int, int] = (1000, 50)) -> Body:
    """A reply that ends the model's turn with ``text``."""
    return _message([{"type": "text", "text": text}], "end_turn", usage)


def _message(content: list[Body], stop: str, usage: tuple[int, int]) -> Body:
    return {
        "id": f"msg_{next(_ids):04d}",
        "type": "message",
        "role": "assistant",
        "model": "scripted",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


@dataclass
class ScriptedClaude:
    """Answers each request with the next reply of ``script``; ``requests`` holds every request
    body received, in order."""

    script: list[Reply]
    requests: list[Body] = field(default_factory=list)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        assert request.method == "POST" and request.url.path == "/v1/messages", request.url
        body: Body = json.loads(request.content)
        self.requests.append(body)
        if not self.script:
            raise AssertionError(f"the script ran out at request {len(self.requests)}")
        reply = self.script.pop(0)
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, HttpError):
            error = {"type": "error", "error": {"type": reply.kind, "message": reply.message}}
            return httpx2.Response(reply.status, json=error)
        return httpx2.Response(200, json=reply)

    def client(self) -> anthropic.Anthropic:
        transport = httpx2.MockTransport(self.handle)
        return anthropic.Anthropic(
            api_key="test", http_client=httpx2.Client(transport=transport), max_retries=0
        )

    def tool_results(self, request: int) -> list[Body]:
        """The tool_result blocks of request number ``request`` (0-based): the driver's replies
        to the previous response's tool calls."""
        last = self.requests[request]["messages"][-1]
        assert last["role"] == "user"
        return [b for b in last["content"] if b.get("type") == "tool_result"]

"""``python -m dlpilot.sandbox.probe.entry REQUEST.json``: run one entry-mode task."""

from __future__ import annotations

import sys
from typing import Any

from ._protocol import Events, read_request, write_result


def _run(task: str, request: dict[str, Any], events: Events) -> dict[str, Any]:
    if task == "device":
        import torch

        cuda = bool(torch.cuda.is_available())
        return {
            "cuda": cuda,
            "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
            "torch": torch.__version__,
        }
    from ._build import build_parts

    params: dict[str, Any] = request.get("params") or {}
    events.emit(0, None, "building the model, data and loss from the factories", force=True)
    parts = build_parts(request["config"])
    if task == "checks":
        from ._checks import run_checks

        return run_checks(parts, params, events)
    if task == "lr_range":
        from ._lr import lr_range

        return lr_range(parts, params, events)
    if task == "batch_size":
        from ._batch import find_batch_size

        return find_batch_size(parts, params, events)
    raise SystemExit(f"entry probe: unknown task {task!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m dlpilot.sandbox.probe.entry REQUEST.json", file=sys.stderr)
        return 2
    request = read_request(argv[0])
    events = Events(request.get("events"))
    result = _run(str(request.get("task")), request, events)
    write_result(request["result"], result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

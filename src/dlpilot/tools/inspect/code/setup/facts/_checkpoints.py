"""Checkpoints: what each save holds (model, optimizer, scheduler, progress), whether it is written
while training goes on or once as a final export, and saves into temporary places."""

from __future__ import annotations

import ast
import re
from typing import Literal

from dlpilot.tools.inspect.code._names import (
    base_name,
    const_str,
    dotted,
    last_name,
    names_progress,
    state_component,
)
from dlpilot.tools.inspect.code.setup.facts._context import Scope, WalkContext

_OPTIMIZER_IN_FILE = re.compile(r"optim|Optimizer|\.step\(")
_SCHEDULER_IN_FILE = re.compile(
    r"lr_scheduler|Scheduler\b|get_\w*schedule\w*\(|OneCycleLR|StepLR|CosineAnnealing|LambdaLR"
    r"|ReduceLROnPlateau"
)
_SAVE_HELPER = re.compile(r"(?i)checkpoint|ckpt|snapshot")
# Context managers whose files are deleted when the block ends.
TEMPORARY = frozenset(
    {"TemporaryDirectory", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"}
)


class CheckpointFacts(WalkContext):
    """Collects the ``ckpt_*`` facts."""

    def _finish_checkpoints(self) -> None:
        if not self.need.saves:
            return
        text = self.f.text
        has_sched = _SCHEDULER_IN_FILE.search(text) is not None
        # updates by hand and no optimizer anywhere in the file: no optimizer state to save
        has_opt = not self.facts.manual_update or _OPTIMIZER_IN_FILE.search(text) is not None
        for sc in self.scopes:
            self._checkpoints(sc, has_sched, has_opt)

    def _checkpoints(self, sc: Scope, has_sched: bool, has_opt: bool) -> None:
        union: set[str] = set()
        first_line = 0
        model_saves: list[ast.Call] = []
        temp = self._temp_paths(sc)
        for call in sc.calls:
            kind = _save_kind(call)
            if kind is not None and temp and _mentions_any(call, temp):
                self.facts.ckpt_scratch.append(call.lineno)
                continue
            if kind is None:
                self.facts.ckpt_unknown |= _checkpoint_named(call)
                continue
            if kind == "complete":
                self.facts.ckpt_complete = True
                continue
            content: set[str] = set()
            if kind == "weights":
                content = {"model"}
            else:
                for arg in [*call.args, *(kw.value for kw in call.keywords)]:
                    got = self._content(arg, sc, call.lineno)
                    if got is None:
                        continue
                    content |= got
            if not content:
                self.facts.ckpt_unknown = True
                continue
            if "model" in content:
                model_saves.append(call)
                if not first_line:
                    first_line = call.lineno
            union |= content
        if "model" not in union:
            return
        need = (["optimizer"] if has_opt else []) + ["progress"]
        need += ["scheduler"] if has_sched else []
        missing = [n for n in need if n not in union]
        if not missing:
            self.facts.ckpt_complete = True
        elif union == {"model"} and not self._during_training(sc, model_saves):
            self.facts.ckpt_exports.append(first_line)
        else:
            self.facts.ckpt_partial.append((first_line, sorted(union), missing))

    def _temp_paths(self, sc: Scope) -> set[str]:
        """Names that hold a temporary directory or file, or a path built from one."""
        temp = set(self.temp_names)
        if temp:
            for rec in sc.assigns:
                if rec.loads & temp:
                    temp.update(rec.names)
        return temp

    def _during_training(self, sc: Scope, saves: list[ast.Call]) -> bool:
        """Whether these saves can run while training goes on: inside a loop, in a function
        called from a loop or named as a checkpoint helper, or to a path that names the epoch
        or step. A weights-only save that is none of these is the final export."""
        if any(id(call) in self.looped for call in saves):
            return True
        if sc.name and (sc.name in self.called_in_loop or _SAVE_HELPER.search(sc.name)):
            return True
        for call in saves:
            for arg in [*call.args[1:], *(kw.value for kw in call.keywords)]:
                names = {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(arg) if isinstance(n, ast.Attribute)}
                if any(names_progress(n) for n in names):
                    return True
        return False

    def _content(self, node: ast.expr, sc: Scope, line: int, depth: int = 0) -> set[str] | None:
        """What a saved object holds: model / optimizer / scheduler / progress; ``None`` unknown."""
        if depth > 2:
            return None
        if isinstance(node, ast.Call):
            name = last_name(node.func)
            if name == "state_dict" and isinstance(node.func, ast.Attribute):
                return {state_component(last_name(node.func.value)) or "model"}
            if name == "dict" and node.keywords:
                return _merge(
                    _key_component(kw.arg, kw.value) if kw.arg else None for kw in node.keywords
                )
            return None
        if isinstance(node, ast.Dict):
            return _merge(
                _key_component(const_str(k), v) if k is not None else None
                for k, v in zip(node.keys, node.values, strict=True)
            )
        if isinstance(node, ast.JoinedStr | ast.BinOp):
            # a file name built from the epoch / step keeps the progress
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            return {"progress"} if any(names_progress(n) for n in names) else set()
        if isinstance(node, ast.Name | ast.Attribute):
            value = self._lookup(node, sc, line)
            if value is not None and not isinstance(value, ast.Name | ast.Attribute):
                got = self._content(value, sc, line, depth + 1)
                if got is not None and isinstance(node, ast.Name):
                    got |= self._extra_keys(node.id, sc)
                return got
            key = node.id if isinstance(node, ast.Name) else node.attr
            comp = state_component(key)
            if comp in ("model", "optimizer", "scheduler"):
                return {comp}
            if comp == "progress":
                return {"progress"}
        return None

    def _extra_keys(self, name: str, sc: Scope) -> set[str]:
        """Keys added later: ``state["optimizer"] = ...`` and ``state.update(...)``."""
        out: set[str] = set()
        for rec in sc.assigns:
            for tg in rec.targets:
                if isinstance(tg, ast.Subscript) and base_name(tg) == name:
                    comp = _key_component(const_str(tg.slice), rec.value)
                    if comp:
                        out |= comp
        for call in sc.calls:
            func = call.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "update"
                and isinstance(func.value, ast.Name)
                and func.value.id == name
            ):
                for arg in [*call.args, *(kw.value for kw in call.keywords)]:
                    got = self._content(arg, sc, call.lineno, 2)
                    if got:
                        out |= got
                for kw in call.keywords:
                    comp = _key_component(kw.arg, kw.value)
                    if comp:
                        out |= comp
        return out


def _mentions_any(call: ast.Call, names: set[str]) -> bool:
    """Whether a name of ``names`` appears in the call's arguments."""
    for arg in [*call.args, *(kw.value for kw in call.keywords)]:
        for node in ast.walk(arg):
            if isinstance(node, ast.Name) and node.id in names:
                return True
    return False


def _key_component(key: str | None, value: ast.expr) -> set[str] | None:
    comp = state_component(key or "")
    if comp is None and isinstance(value, ast.Call) and last_name(value.func) == "state_dict":
        func = value.func
        assert isinstance(func, ast.Attribute)
        comp = state_component(last_name(func.value)) or "model"
    if comp is None and isinstance(value, ast.Name | ast.Attribute):
        comp = state_component(value.id if isinstance(value, ast.Name) else value.attr)
    return {comp} if comp else set()


def _merge(parts: object) -> set[str] | None:
    out: set[str] = set()
    for p in parts:  # type: ignore[attr-defined]
        if p is None:
            return None  # ``**extra``: contents unknown
        out |= p
    return out


def _checkpoint_named(call: ast.Call) -> bool:
    """A call that saves a checkpoint by its name (``save_checkpoint(...)``, ``ckpt.save()``)
    although what it saves is not visible here."""
    name = last_name(call.func).lower()
    return "save" in name and _SAVE_HELPER.search(name) is not None


def _save_kind(call: ast.Call) -> Literal["object", "weights", "complete"] | None:
    func = call.func
    name = last_name(func)
    if isinstance(func, ast.Attribute):
        recv = dotted(func.value)
        if name == "save":
            if recv == "torch.jit" or recv == "jit":
                return "weights"
            if recv.split(".")[-1] in ("torch", "th", "xm", "fabric", "accelerator"):
                return "object"
            return None
        if name in ("save_state", "save_checkpoint") and recv.split(".")[-1] in (
            "accelerator",
            "trainer",
            "fabric",
            "engine",
            "model_engine",
        ):
            return "complete"
    if name in ("save_pretrained", "save_model", "save_file", "save_weights"):
        return "weights"
    lowered = name.lower()
    named = "save" in lowered and any(w in lowered for w in ("checkpoint", "ckpt", "state"))
    has_dict = any(isinstance(a, ast.Dict) for a in call.args) or any(
        isinstance(kw.value, ast.Dict) for kw in call.keywords
    )
    return "object" if named and has_dict else None


__all__ = ["CheckpointFacts"]

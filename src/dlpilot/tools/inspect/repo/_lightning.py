"""What a Lightning ``Trainer(...)`` call writes into the working directory by itself.

Lightning's defaults: with a logger (``logger`` left out or ``True``) it logs, and checkpoints,
under ``<default_root_dir>/lightning_logs/``; with ``logger=False`` (or ``None``) and checkpointing
on (the default) the checkpoints land in ``<default_root_dir>/checkpoints/``; with both off nothing
is written. ``default_root_dir`` defaults to the working directory; a call that names it (or
hands a logger object, which has its own ``save_dir``) writes where that value says, which the
path-literal rules judge, so it adds nothing here. A call whose arguments cannot be read
(``**kwargs``, a computed ``logger=``) adds nothing either: a guess would be a false alarm.
"""

from __future__ import annotations

import ast

_PACKAGES = ("lightning", "pytorch_lightning")


def imports_lightning(tree: ast.Module) -> bool:
    """Whether the module imports Lightning (the ``Trainer`` it calls may be another's)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[0] in _PACKAGES for a in node.names):
                return True
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] in _PACKAGES
        ):
            return True
    return False


def _is_trainer(call: ast.Call) -> bool:
    f = call.func
    return (isinstance(f, ast.Name) and f.id == "Trainer") or (
        isinstance(f, ast.Attribute) and f.attr == "Trainer"
    )


def _flag(value: ast.expr | None, default: bool) -> bool | None:
    """A keyword's truth when it is written as a constant (``None`` counts as off)."""
    if value is None:
        return default
    if isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, bool)):
        return bool(value.value)
    return None


def _has_checkpoint_dirpath(tree: ast.Module) -> bool:
    """A ``ModelCheckpoint(dirpath=...)`` that sends the checkpoints elsewhere."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            if name == "ModelCheckpoint" and any(k.arg == "dirpath" for k in node.keywords):
                return True
    return False


def trainer_writes(tree: ast.Module) -> list[tuple[str, int]]:
    """``(directory/, line)`` for each default directory a Lightning ``Trainer`` call writes."""
    if not imports_lightning(tree):
        return []
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_trainer(node):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        if None in kw or "default_root_dir" in kw:
            continue  # **kwargs: unknown; a named root: judged from its literal
        logger = _flag(kw.get("logger"), default=True)
        if logger is None:
            continue  # a logger object (its own save_dir) or a computed choice
        if logger:
            out.append(("lightning_logs/", node.lineno))
            continue
        checkpointing = _flag(kw.get("enable_checkpointing"), default=True)
        if checkpointing and not _has_checkpoint_dirpath(tree):
            out.append(("checkpoints/", node.lineno))
    return out


__all__ = ["imports_lightning", "trainer_writes"]

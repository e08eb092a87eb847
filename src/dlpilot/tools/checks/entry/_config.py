"""The ``[tool.dlpilot]`` table: where it is read from and how it is validated.

The table lives in the project's ``pyproject.toml`` (``[tool.dlpilot]``) or in a ``dlpilot.toml``
next to it (either a ``[tool.dlpilot]`` table or the same keys at top level). Factories are
``"module:attr"`` references resolved in the child with the project directory on ``sys.path``;
``attr`` may be dotted (``"pkg.models:Nets.small"``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from dlpilot.errors import ProjectError

PYPROJECT = "pyproject.toml"
DLPILOT_TOML = "dlpilot.toml"

DEFAULT_BATCH_SIZE = 32
"""Batch size of the checks when the table sets none: the overfit seed's 32-128 range, low end."""

DEFAULT_LR = 1e-3
"""Learning rate of the checks when the table sets none: Adam's usual default (seed 004 §6)."""

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REF = re.compile(rf"^{_NAME}(\.{_NAME})*:{_NAME}(\.{_NAME})*$")

FACTORY_KEYS = ("model", "train_data", "val_data", "loss", "optimizer")
"""Keys whose value is a ``"module:attr"`` reference."""

KWARGS_KEYS = tuple(f"{k}_kwargs" for k in FACTORY_KEYS)
"""Sub-tables of keyword arguments for each factory, e.g. ``[tool.dlpilot.model_kwargs]``."""

TABLE_KEYS = (
    *FACTORY_KEYS,
    *KWARGS_KEYS,
    "num_classes",
    "train_command",
    "metrics",
    "batch_size",
    "lr",
)

OTHER_SECTIONS = ("trials", "search_space", "runbook")
"""Sub-tables owned by other dlpilot tools: passed over here, never an error."""


class EntryConfig(BaseModel):
    """The validated ``[tool.dlpilot]`` table, plus where it was read from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_dir: Path = Field(description="absolute project directory; factories resolve from it")
    source: Path = Field(description="the file the table was read from")
    model: str = Field(description='"module:attr" returning an nn.Module')
    train_data: str = Field(description='"module:attr" returning a Dataset or DataLoader')
    val_data: str | None = None
    loss: str = Field(description='"module:attr": a loss class, a loss function, or a factory')
    optimizer: str = Field(description='"module:attr" called as f(params, lr=..., **kwargs)')
    num_classes: int | None = Field(default=None, ge=2)
    train_command: str | None = None
    metrics: list[str] = Field(default_factory=list)
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1)
    lr: float = Field(default=DEFAULT_LR, gt=0)
    model_kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    train_data_kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    val_data_kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    loss_kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    optimizer_kwargs: dict[str, JsonValue] = Field(default_factory=dict)


def find_table(project_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The file holding the table and the raw table, or None when neither file has one."""
    found: list[tuple[Path, dict[str, Any]]] = []
    pyproject = project_dir / PYPROJECT
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("dlpilot")
        if table is not None:
            found.append((pyproject, table))
    own = project_dir / DLPILOT_TOML
    if own.is_file():
        data = _read_toml(own)
        table = data.get("tool", {}).get("dlpilot", data)
        found.append((own, table))
    if len(found) > 1:
        raise ProjectError(f"both {pyproject} and {own} hold a dlpilot table; keep one of them")
    return found[0] if found else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}") from exc


def load_entry_config(project_dir: str | Path) -> EntryConfig:
    """Read and validate the project's ``[tool.dlpilot]`` table.

    Raises :class:`~dlpilot.errors.ProjectError` when the directory or the table is missing, or
    when a key is unknown or a value malformed (the message names the key, the value and what is
    accepted).
    """
    root = Path(project_dir).expanduser()
    if not root.is_dir():
        raise ProjectError(f"project directory {str(root)!r} does not exist")
    root = root.resolve()
    hit = find_table(root)
    if hit is None:
        raise ProjectError(
            f"no [tool.dlpilot] table in {root / PYPROJECT} and no {DLPILOT_TOML} in {root}; "
            "`dlpilot init` proposes one"
        )
    source, table = hit
    return parse_table(table, project_dir=root, source=source)


def parse_table(table: Any, *, project_dir: Path, source: Path) -> EntryConfig:
    """Validate a raw table (a dict from TOML) into an :class:`EntryConfig`."""
    where = f"[tool.dlpilot] in {source}"
    if not isinstance(table, dict):
        raise ProjectError(f"{where} must be a table, got {table!r}")
    unknown = sorted(k for k in table if k not in TABLE_KEYS and k not in OTHER_SECTIONS)
    if unknown:
        raise ProjectError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"accepted keys are {', '.join(TABLE_KEYS)}"
        )
    values = {k: v for k, v in table.items() if k in TABLE_KEYS}
    for key in FACTORY_KEYS:
        if key in values:
            check_ref(key, values[key], where=where)
    for key in KWARGS_KEYS:
        if key in values and not isinstance(values[key], dict):
            raise ProjectError(
                f"{where}: {key} = {values[key]!r} must be a table of keyword arguments, "
                f"e.g. [tool.dlpilot.{key}] with width = 32"
            )
    if isinstance(values.get("metrics"), str):
        values["metrics"] = [values["metrics"]]
    try:
        return EntryConfig(project_dir=project_dir, source=source, **values)
    except ValidationError as exc:
        raise ProjectError(f"{where}: {_explain(exc, values)}") from exc


def check_ref(key: str, value: Any, *, where: str) -> None:
    """Refuse a factory reference that is not ``"module:attr"``."""
    if not isinstance(value, str) or not _REF.match(value):
        raise ProjectError(
            f'{where}: {key} = {value!r} is not a "module:attr" reference; '
            'write it as "package.module:name" (e.g. "torch.optim:AdamW"), '
            "a module importable from the project directory and a name in it"
        )


def _explain(exc: ValidationError, values: dict[str, Any]) -> str:
    parts = []
    for err in exc.errors():
        loc = err.get("loc", ())
        key = str(loc[0]) if loc else "?"
        if err.get("type") == "missing":
            parts.append(f"missing required key {key!r}")
        else:
            parts.append(f"{key} = {values.get(key)!r}: {err.get('msg')}")
    return "; ".join(parts)

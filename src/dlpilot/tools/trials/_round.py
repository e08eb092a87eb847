"""The round file: one round of the tuning procedure, as people write it and the runbook writes it.

A round (seed 001 section 3) runs the project's own training command as trials, with the
hyperparameters filled in, and answers one question: how the *target* hyperparameters compare,
each with its *nuisance* hyperparameters tuned, the *fixed* ones unchanged. The file is TOML, YAML
or JSON (by extension); the same fields can live in ``pyproject.toml`` as ``[tool.dlpilot]``'s
``train_command`` plus its ``trials`` and ``search_space`` sub-tables (:func:`round_from_table`).

::

    name = "toy-lr-dropout"
    command = "python train.py --lr {lr} --dropout {dropout} --seed {seed} --out {trial_dir}"
    workdir = "."                              # relative to the round file
    metrics = "{trial_dir}/metrics.jsonl"      # any format `dlpilot curves` reads
    objective = { metric = "val/loss", direction = "minimize", take = "best" }
    trials = 24
    [params.lr]
    role = "target"
    type = "float"
    low = 1e-4
    high = 0.3
    log = true

Placeholders in ``command`` and ``metrics``: every parameter by name, and the built-ins
``{seed}``, ``{trial_dir}`` (a fresh directory per trial), ``{trial_number}`` and ``{study}``.
Braces that are not a placeholder are written doubled (``{{`` / ``}}``), as in ``str.format``.
"""

from __future__ import annotations

import json
import math
import re
import string
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from dlpilot.errors import InvalidArgument

BUILTIN_PLACEHOLDERS = ("seed", "trial_dir", "trial_number", "study")
"""Placeholders every round may use besides its parameters' names."""

ROUND_SUFFIXES = (".toml", ".yaml", ".yml", ".json")

Role = Literal["target", "nuisance", "fixed"]
"""Seed 001 section 3.2. ``scientific`` (the Tuning Playbook's word) is read as ``target``."""

Scalar = StrictBool | int | float | str

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STUDY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class RoundFileError(InvalidArgument):
    """A round file that cannot be read or is not valid; the message names the field and value."""


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role = "nuisance"
    description: str = Field(default="", description="what it is, for people and the runbook")

    @field_validator("role", mode="before")
    @classmethod
    def _scientific_is_target(cls, value: Any) -> Any:
        return "target" if value == "scientific" else value

    @property
    def varied(self) -> bool:
        """Whether trials choose a value (target and nuisance parameters) or not (fixed)."""
        return self.role != "fixed"


class FloatParam(_Param):
    """A real-valued parameter on ``[low, high]``, log-uniform when ``log``."""

    type: Literal["float"]
    low: float
    high: float
    log: StrictBool = False
    step: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> FloatParam:
        _check_bounds(self.low, self.high, self.log, self.step)
        return self


class IntParam(_Param):
    """An integer parameter on ``[low, high]``, log-uniform when ``log``."""

    type: Literal["int"]
    low: int
    high: int
    log: StrictBool = False
    step: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> IntParam:
        _check_bounds(self.low, self.high, self.log, None if self.step == 1 else self.step)
        return self


class CategoricalParam(_Param):
    """One of ``choices`` (numbers, strings or booleans)."""

    type: Literal["categorical"]
    choices: list[Scalar] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> CategoricalParam:
        if len({json.dumps(c) for c in self.choices}) != len(self.choices):
            raise ValueError(f"choices {self.choices!r} repeat a value")
        return self


class FixedParam(_Param):
    """A parameter held at ``value`` for the whole round (``type = "fixed"``)."""

    type: Literal["fixed"]
    role: Role = "fixed"
    value: Scalar


Param = Annotated[
    FloatParam | IntParam | CategoricalParam | FixedParam, Field(discriminator="type")
]


def _check_bounds(low: float, high: float, log: bool, step: float | None) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"low = {low!r} and high = {high!r} must be finite")
    if low >= high:
        raise ValueError(f"low = {low!r} must be below high = {high!r}")
    if log and low <= 0:
        raise ValueError(f"a log-scale range needs low > 0, got low = {low!r}")
    if log and step is not None:
        raise ValueError("step and log cannot be combined")


class Objective(BaseModel):
    """What a trial's score is: ``metric`` (a normalized curve name such as ``val/loss`` or
    ``val/acc``), minimized or maximized, taken at its best point or its last one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(min_length=1)
    direction: Literal["minimize", "maximize"] = "minimize"
    take: Literal["best", "last"] = "best"


class Pruner(BaseModel):
    """How hopeless trials are stopped from their live curves. ``min_step``: no trial is pruned
    before this step of its curve; ``reduction_factor``: ASHA's / Hyperband's eta."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["asha", "hyperband", "median", "none"] = "asha"
    min_step: int = Field(default=0, ge=0)
    reduction_factor: int = Field(default=3, ge=2)
    max_step: int | None = Field(default=None, ge=1, description="Hyperband's max resource")


class Seeds(BaseModel):
    """Seed re-runs after the search (seed 001 section 3.4): the best ``top`` configurations (and
    the baseline, when there is one) each run ``runs`` times with different seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top: int = Field(default=0, ge=0)
    runs: int = Field(default=3, ge=2)


class RoundFile(BaseModel):
    """One round: the command, where its metrics land, the objective, the search space and the
    budget. ``source`` is the file it was read from (``workdir`` is relative to its directory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the study name")
    command: str = Field(min_length=1, description="the training command with placeholders")
    workdir: str = Field(default=".", description="relative to the round file's directory")
    metrics: str = Field(min_length=1, description="a file or directory, with placeholders")
    objective: Objective
    params: dict[str, Param] = Field(default_factory=dict)
    trials: int = Field(default=20, ge=1, le=100_000)
    parallel: Literal["auto"] | Annotated[int, Field(ge=1, le=1024)] = "auto"
    trials_per_gpu: int = Field(default=1, ge=1, le=64)
    trial_timeout_s: float = Field(default=3600.0, gt=0)
    sampler: Literal["qmc", "tpe", "gp", "random", "grid"] = "qmc"
    pruner: Pruner = Field(default_factory=Pruner)
    seeds: Seeds = Field(default_factory=Seeds)
    seed: int = Field(default=0, ge=0, description="the {seed} of search trials")
    baseline: dict[str, Scalar] | None = Field(
        default=None, description="parameter values enqueued as the first trial"
    )
    storage: str = Field(default="", description='"" = the embedded journal; or a database URL')
    params_from_env: StrictBool = Field(
        default=False,
        description="the script reads DLPILOT_TRIAL_PARAMS: parameters need no placeholder",
    )
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _study_name(cls, value: str) -> str:
        if not _STUDY.match(value):
            raise ValueError(
                f"name = {value!r} must be 1-100 letters, digits, '.', '_' or '-' "
                "(it names the study and its folder)"
            )
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _fixed_params(cls, value: Any) -> Any:
        """A parameter whose role is ``fixed`` is a :class:`FixedParam` whatever its ``type``:
        only its ``value`` matters (a range or choices kept from an earlier round are ignored)."""
        if not isinstance(value, dict):
            return value
        out = {}
        for name, param in value.items():
            if isinstance(param, dict) and param.get("role") == "fixed":
                if "value" not in param:
                    raise ValueError(f"params.{name}: a fixed parameter needs a value")
                param = {"type": "fixed", "role": "fixed", "value": param["value"]}
            out[name] = param
        return out

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, param in value.items():
            if not _NAME.match(name) or name in BUILTIN_PLACEHOLDERS:
                raise ValueError(
                    f"parameter name {name!r} must be an identifier and not one of "
                    f"{', '.join(BUILTIN_PLACEHOLDERS)}"
                )
            if isinstance(param, FixedParam) and param.role != "fixed":
                raise ValueError(f"params.{name}: type 'fixed' takes role 'fixed'")
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> RoundFile:
        known = set(self.params) | set(BUILTIN_PLACEHOLDERS)
        for field_name in ("command", "metrics"):
            for name in placeholders(getattr(self, field_name), field_name):
                if name not in known:
                    raise ValueError(
                        f"{field_name} = {getattr(self, field_name)!r} uses {{{name}}}, which is "
                        f"neither a parameter ({', '.join(sorted(self.params)) or 'none'}) nor "
                        f"a built-in ({', '.join(BUILTIN_PLACEHOLDERS)})"
                    )
        if not self.params_from_env:
            used = placeholders(self.command, "command")
            missing = [n for n, p in self.params.items() if p.varied and n not in used]
            if missing:
                raise ValueError(
                    f"command = {self.command!r} has no placeholder for "
                    f"{', '.join('{' + n + '}' for n in missing)}; add them, or set "
                    "params_from_env = true if the script reads DLPILOT_TRIAL_PARAMS"
                )
        if self.baseline is not None:
            unknown = sorted(set(self.baseline) - set(self.params))
            if unknown:
                raise ValueError(
                    f"baseline names {', '.join(map(repr, unknown))}, which are not parameters"
                )
        if not any(p.varied for p in self.params.values()) and self.trials > 1:
            raise ValueError("no parameter is varied (all fixed or none): a round needs one")
        if self.sampler == "grid":
            bad = [n for n, p in self.params.items() if p.varied and isinstance(p, FloatParam)]
            bad = [n for n in bad if self.params[n].step is None]  # type: ignore[union-attr]
            if bad:
                raise ValueError(
                    f"sampler = 'grid' needs a finite grid; give {', '.join(bad)} a step or choices"
                )
        return self

    # --- derived views ----------------------------------------------------------------------

    @property
    def varied(self) -> dict[str, FloatParam | IntParam | CategoricalParam]:
        """The parameters trials choose (target and nuisance), in file order."""
        return {n: p for n, p in self.params.items() if p.varied}  # type: ignore[misc]

    @property
    def targets(self) -> list[str]:
        return [n for n, p in self.params.items() if p.role == "target"]

    @property
    def nuisance(self) -> list[str]:
        return [n for n, p in self.params.items() if p.role == "nuisance"]

    @property
    def fixed(self) -> dict[str, Scalar]:
        return {n: p.value for n, p in self.params.items() if isinstance(p, FixedParam)}

    @property
    def base_dir(self) -> Path:
        """The directory ``workdir`` is relative to: the round file's, else the current one."""
        return self.source.parent if self.source is not None else Path.cwd()

    @property
    def work_dir(self) -> Path:
        return (self.base_dir / self.workdir).resolve()

    def to_toml(self) -> str:
        """The round as a TOML file that :func:`load_round` reads back to an equal model."""
        return _to_toml(self.model_dump(mode="json", exclude_none=True))


def placeholders(template: str, where: str = "template") -> list[str]:
    """The ``{name}`` placeholders of a template, in order; an ill-formed one is an error."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{where} = {template!r}: {exc} (write a literal brace as {{{{)") from exc
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _NAME.match(name) or spec or conversion:
            raise ValueError(
                f"{where} = {template!r}: {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} is not a plain {{name}} placeholder"
            )
        names.append(name)
    return names


def fill(template: str, values: dict[str, Any]) -> str:
    """``template`` with its placeholders replaced (numbers written with ``repr``-exact text)."""
    return template.format_map({k: _text(v) for k, v in values.items()})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- reading ----------------------------------------------------------------------------------


def load_round(path: str | Path) -> RoundFile:
    """Read and validate a round file (``.toml``, ``.yaml`` / ``.yml`` or ``.json``).

    Raises :class:`RoundFileError` naming the file, the field and the bad value.
    """
    source = Path(path).expanduser()
    if source.suffix.lower() not in ROUND_SUFFIXES:
        raise RoundFileError(f"round file {str(source)!r} must end in {', '.join(ROUND_SUFFIXES)}")
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoundFileError(f"cannot read round file {str(source)!r}: {exc}") from exc
    data = _parse(text, source)
    if isinstance(data, dict) and "tool" in data and "name" not in data:
        table = data.get("tool", {}).get("dlpilot") if isinstance(data["tool"], dict) else None
        if isinstance(table, dict):
            return round_from_table(table, source=source.resolve())
    return parse_round(data, source=source.resolve())


def _parse(text: str, source: Path) -> Any:
    suffix = source.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # each parser has its own error types
        raise RoundFileError(
            f"round file {str(source)!r} is not valid {suffix[1:]}: {exc}"
        ) from exc


def parse_round(data: Any, *, source: Path | None = None) -> RoundFile:
    """Validate a round given as a mapping (from any of the file formats)."""
    where = f"round file {str(source)!r}" if source else "round"
    if not isinstance(data, dict):
        raise RoundFileError(f"{where} must be a table of fields, got {type(data).__name__}")
    try:
        return RoundFile.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise RoundFileError(f"{where}: {explain(exc, data)}") from exc


def round_from_table(table: dict[str, Any], *, source: Path) -> RoundFile:
    """The round kept in ``[tool.dlpilot]``: ``train_command`` is the command, the ``trials``
    sub-table holds the other fields and ``search_space`` the parameters."""
    trials = table.get("trials")
    if not isinstance(trials, dict):
        raise RoundFileError(f"[tool.dlpilot] in {source} has no [tool.dlpilot.trials] table")
    data = dict(trials)
    if "command" not in data and "train_command" in table:
        data["command"] = table["train_command"]
    if "params" not in data and isinstance(table.get("search_space"), dict):
        data["params"] = table["search_space"]
    if "metrics" not in data and isinstance(table.get("metrics"), str):
        data["metrics"] = table["metrics"]
    return parse_round(data, source=source)


def explain(exc: ValidationError, data: Any) -> str:
    """Pydantic's errors as ``field.path = value: reason`` parts, the value shortened."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in _DISCRIMINATED]
        field_name = ".".join(loc) or "round"
        if err.get("type") == "missing":
            parts.append(f"missing field {field_name!r}")
            continue
        if err.get("type") == "extra_forbidden":
            parts.append(f"unknown field {field_name!r}")
            continue
        value = _lookup(data, err.get("loc", ()))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        shown = "" if value is _MISSING else f" = {_short(value)}"
        parts.append(f"{field_name}{shown}: {msg}")
    return "; ".join(parts)


_DISCRIMINATED = {"float", "int", "categorical", "fixed", "function-after[_bounds(), FloatParam]"}
_MISSING = object()


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif part in _DISCRIMINATED:
            continue
        else:
            return _MISSING
    return node


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- writing ----------------------------------------------------------------------------------


def _to_toml(data: dict[str, Any]) -> str:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    lines = [f"{k} = {_toml_value(v)}" for k, v in scalars.items()]
    inline = {k: v for k, v in tables.items() if k != "params"}
    lines += [f"{k} = {_toml_value(v)}" for k, v in inline.items()]
    for name, param in tables.get("params", {}).items():
        lines += ["", f"[params.{name}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in param.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise RoundFileError(f"cannot write {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise RoundFileError(f"cannot write {value!r} to TOML")


__all__ = [
    "BUILTIN_PLACEHOLDERS",
    "CategoricalParam",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "Objective",
    "Param",
    "Pruner",
    "RoundFile",
    "RoundFileError",
    "Seeds",
    "fill",
    "load_round",
    "parse_round",
    "placeholders",
    "round_from_table",
]

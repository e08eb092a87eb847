"""A training script's tunable flags and their defaults, read statically (``ast``, nothing runs).

Understood: ``argparse`` ``add_argument`` calls (also inside a ``for`` loop over a literal list,
a common way to declare many flags), ``click.option`` decorators, a ``--config`` flag whose
default is a TOML / YAML / JSON file (its keys give the defaults of flags declared with
``default=None``), and Hydra's ``@hydra.main(config_path=..., config_name=...)`` (top-level
scalars of the YAML, overridden as ``key=value``).
"""

from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Scalar = bool | int | float | str
FlagType = Literal["int", "float", "str", "bool", "path", "switch"]

OUTPUT_NAMES = ("out", "output", "out_dir", "output_dir", "outdir", "save_dir", "log_dir",
                "logdir", "run_dir", "runs_dir", "checkpoint_dir", "ckpt_dir", "work_dir",
                "exp_dir", "experiment_dir", "results_dir")  # fmt: skip
"""Flag destinations that name where a run writes (they become ``{trial_dir}``)."""

CONFIG_NAMES = ("config", "config_file", "cfg", "config_path")


class Flag(BaseModel):
    """One command-line flag of the training script."""

    dest: str = Field(description="the name the script reads, e.g. batch_size")
    option: str = Field(description="how it is written, e.g. --batch-size, or key= for Hydra")
    type: FlagType
    default: Scalar | None = None
    choices: list[Scalar] | None = None
    help: str = ""
    source: str = Field(description="argparse, click, hydra, or the config file it came from")
    line: int | None = None

    @property
    def tunable(self) -> bool:
        """A number (or a choice) with a default: something a trial can set."""
        return (
            self.type in ("int", "float") or (self.type == "str" and bool(self.choices))
        ) and self.default is not None


def read_flags(tree: ast.Module, script: Path) -> tuple[list[Flag], str | None]:
    """The script's flags and the destination of its output-directory flag (if any)."""
    flags: list[Flag] = []
    _argparse(tree, flags)
    _click(tree, flags)
    hydra = _hydra(tree, script)
    flags += hydra
    _config_defaults(flags, script)
    seen: dict[str, Flag] = {}
    for flag in flags:
        seen.setdefault(flag.dest, flag)
    unique = list(seen.values())
    return unique, _output_flag(unique)


# --- argparse ------------------------------------------------------------------------------------


def _argparse(tree: ast.Module, flags: list[Flag]) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.For):
            for env in _loop_envs(node):
                for inner in ast.walk(node):
                    if _is_add_argument(inner):
                        _add_argument(inner, env, flags)  # type: ignore[arg-type]
    loop_calls = {
        id(n) for loop in ast.walk(tree) if isinstance(loop, ast.For) for n in ast.walk(loop)
    }
    for node in ast.walk(tree):
        if _is_add_argument(node) and id(node) not in loop_calls:
            _add_argument(node, {}, flags)  # type: ignore[arg-type]


def _is_add_argument(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_argument"
    )


def _loop_envs(loop: ast.For) -> list[dict[str, Any]]:
    """The loop variables' values for each iteration of ``for a, b in [(..), ..]``."""
    try:
        items = ast.literal_eval(_unname_types(loop.iter))
    except (ValueError, SyntaxError, TypeError):
        return []
    if not isinstance(items, list | tuple):
        return []
    envs = []
    for item in items:
        if isinstance(loop.target, ast.Name):
            envs.append({loop.target.id: item})
        elif isinstance(loop.target, ast.Tuple) and isinstance(item, tuple | list):
            names = [t.id for t in loop.target.elts if isinstance(t, ast.Name)]
            if len(names) == len(item):
                envs.append(dict(zip(names, item, strict=True)))
    return envs


_TYPE_NAMES = {"int", "float", "str", "bool", "Path"}


def _unname_types(node: ast.expr) -> ast.expr:
    """A copy of ``node`` with bare type names (``int``, ``Path``) as strings, so a literal list
    of ``(name, type)`` pairs can be evaluated."""

    class _T(ast.NodeTransformer):
        def visit_Name(self, n: ast.Name) -> ast.AST:
            return ast.Constant(n.id) if n.id in _TYPE_NAMES else n

    return _T().visit(ast.parse(ast.unparse(node), mode="eval").body)  # type: ignore[no-any-return]


def _value(node: ast.expr | None, env: dict[str, Any]) -> Any:
    """A small evaluator: literals, loop variables, ``+`` of strings, ``str.replace`` / ``lower``,
    f-strings, and type names. Anything else is ``None``."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        return node.id if node.id in _TYPE_NAMES else None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.attr in _TYPE_NAMES else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _value(node.operand, env)
        return -inner if isinstance(inner, int | float) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _value(node.left, env), _value(node.right, env)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        base = _value(node.func.value, env)
        args = [_value(a, env) for a in node.args]
        if isinstance(base, str) and all(isinstance(a, str) for a in args):
            if node.func.attr == "replace" and len(args) == 2:
                return base.replace(args[0], args[1])
            if node.func.attr in ("lower", "strip") and not args:
                return getattr(base, node.func.attr)()
        return None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            got = _value(v.value if isinstance(v, ast.FormattedValue) else v, env)
            if got is None:
                return None
            parts.append(str(got))
        return "".join(parts)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_value(e, env) for e in node.elts]
        return None if any(i is None for i in items) else items
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _path_text(node)
    return None


def _path_text(node: ast.expr) -> str | None:
    """``HERE / "configs" / "x.toml"`` -> ``configs/x.toml`` (relative to the script)."""
    parts: list[str] = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        if not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)):
            return None
        parts.append(node.right.value)
        node = node.left
    return "/".join(reversed(parts)) if parts else None


def _add_argument(call: ast.Call, env: dict[str, Any], flags: list[Flag]) -> None:
    names = [_value(a, env) for a in call.args]
    options = [n for n in names if isinstance(n, str) and n.startswith("-")]
    if not options:
        return  # a positional argument is not a flag a trial sets
    long = next((o for o in options if o.startswith("--")), options[0])
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    dest = _value(kw.get("dest"), env) or long.lstrip("-").replace("-", "_")
    action = _value(kw.get("action"), env)
    default = _value(kw.get("default"), env) if "default" in kw else None
    kind: FlagType
    if action in ("store_true", "store_false", "count", "help", "version", "store_const"):
        kind = "switch"
        default = action == "store_false" if action in ("store_true", "store_false") else None
    else:
        typ = _value(kw.get("type"), env)
        kind = _flag_type(typ, default)
        if kind == "path" and isinstance(default, str | type(None)) and "default" in kw:
            default = _value(kw["default"], env) or _path_text(kw["default"])
    choices = _value(kw.get("choices"), env)
    help_text = _value(kw.get("help"), env)
    flags.append(
        Flag(
            dest=str(dest),
            option=long,
            type=kind,
            default=_scalar(default),
            choices=choices if isinstance(choices, list) else None,
            help=help_text if isinstance(help_text, str) else "",
            source="argparse",
            line=call.lineno,
        )
    )


def _flag_type(typ: Any, default: Any) -> FlagType:
    if typ in ("int", "float", "bool"):
        return typ  # type: ignore[no-any-return]
    if typ == "Path":
        return "path"
    if typ is None and default is not None and not isinstance(default, str):
        return (
            "bool" if isinstance(default, bool) else "int" if isinstance(default, int) else "float"
        )
    return "str"


def _scalar(value: Any) -> Scalar | None:
    return value if isinstance(value, bool | int | float | str) else None


# --- click ---------------------------------------------------------------------------------------


def _click(tree: ast.Module, flags: list[Flag]) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Attribute)
                and deco.func.attr == "option"
            ):
                continue
            names = [_value(a, {}) for a in deco.args]
            options = [n for n in names if isinstance(n, str) and n.startswith("-")]
            plain = [n for n in names if isinstance(n, str) and not n.startswith("-")]
            if not options:
                continue
            long = next((o for o in options if o.startswith("--")), options[0])
            kw = {k.arg: k.value for k in deco.keywords if k.arg}
            default = _value(kw.get("default"), {})
            is_flag = _value(kw.get("is_flag"), {}) is True
            kind: FlagType = (
                "switch" if is_flag else _flag_type(_value(kw.get("type"), {}), default)
            )
            flags.append(
                Flag(
                    dest=plain[0] if plain else long.lstrip("-").split("/")[0].replace("-", "_"),
                    option=long.split("/")[0],
                    type=kind,
                    default=_scalar(default),
                    help=str(_value(kw.get("help"), {}) or ""),
                    source="click",
                    line=deco.lineno,
                )
            )


# --- config files (--config default, Hydra) ----------------------------------------------


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            return None
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    except Exception:  # yaml's errors have their own types
        return None
    return data if isinstance(data, dict) else None


def _config_defaults(flags: list[Flag], script: Path) -> None:
    """Fill flags declared with ``default=None`` from the file the ``--config`` flag points at,
    and add the config's other scalar keys as flags the script also reads from it."""
    config_flag = next(
        (f for f in flags if f.dest in CONFIG_NAMES and isinstance(f.default, str)), None
    )
    if config_flag is None:
        return
    path = (script.parent / str(config_flag.default)).resolve()
    data = _read_config(path)
    if data is None:
        return
    where = f"config:{path.name}"
    by_dest = {f.dest: f for f in flags}
    for key, value in data.items():
        if not isinstance(value, bool | int | float | str):
            continue
        flag = by_dest.get(key)
        if flag is None:
            continue  # a key with no flag cannot be set from the command line
        if flag.default is None:
            flag.default = value
            flag.source = f"{flag.source}+{where}"
            if flag.type == "str" and not isinstance(value, str):
                flag.type = "bool" if isinstance(value, bool) else (
                    "int" if isinstance(value, int) else "float"
                )  # fmt: skip


def _hydra(tree: ast.Module, script: Path) -> list[Flag]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and ast.unparse(deco.func).endswith("hydra.main")):
                continue
            kw = {k.arg: _value(k.value, {}) for k in deco.keywords if k.arg}
            config_dir = kw.get("config_path") or "."
            name = kw.get("config_name") or "config"
            name = name if str(name).endswith((".yaml", ".yml")) else f"{name}.yaml"
            path = (script.parent / str(config_dir) / str(name)).resolve()
            data = _read_config(path) or {}
            out = []
            for key, value in _flatten(data).items():
                kind = _flag_type(None, value) if not isinstance(value, str) else "str"
                out.append(
                    Flag(dest=key, option=f"{key}=", type=kind, default=value,
                         source=f"hydra:{path.name}", line=deco.lineno)
                )  # fmt: skip
            return out
    return []


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
    return out


def _output_flag(flags: list[Flag]) -> str | None:
    for flag in flags:
        if flag.dest.lower() in OUTPUT_NAMES and flag.type in ("path", "str"):
            return flag.dest
    for flag in flags:
        text = flag.help.lower()
        if flag.type in ("path", "str") and ("output dir" in text or "directory to write" in text):
            return flag.dest
    return None


__all__ = ["OUTPUT_NAMES", "Flag", "read_flags"]

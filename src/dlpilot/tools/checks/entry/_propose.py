"""``dlpilot init``: draft a ``[tool.dlpilot]`` table by reading the project with ``ast`` (no
import, no execution) and write it without clobbering an existing one."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dlpilot.errors import InvalidArgument, ProjectError
from dlpilot.tools._atomic import atomic_write_text
from dlpilot.tools.control import PathGuard

from ._config import DLPILOT_TOML, PYPROJECT, find_table

MAX_FILES = 500
"""Python files read at most: a project's own code, not a vendored tree."""

MAX_FILE_BYTES = 512_000
"""Larger files are generated or vendored; skipped."""

SKIP_DIRS = {".git", ".venv", "venv", "env", "node_modules", "build", "dist", "site-packages",
             "__pycache__", "tests", "test", "runs", "data", "wandb", "lightning_logs"}  # fmt: skip

MODULE_BASES = {"Module", "LightningModule"}
DATASET_BASES = {"Dataset", "IterableDataset", "TensorDataset"}
DATA_RETURNS = ("Dataset", "DataLoader", "TensorDataset")
LOSSES = {
    "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "MSELoss", "L1Loss",
    "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CTCLoss",
}  # fmt: skip
FUNCTIONAL_LOSSES = {"cross_entropy", "nll_loss", "binary_cross_entropy_with_logits",
                     "binary_cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss"}  # fmt: skip
OPTIMIZERS = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
              "RAdam", "LBFGS", "SparseAdam"}  # fmt: skip
PLACEHOLDERS = {
    "lr": "lr", "learning_rate": "lr", "epochs": "epochs", "batch_size": "batch_size",
    "weight_decay": "weight_decay", "wd": "weight_decay", "dropout": "dropout", "out": "out",
    "output": "out", "out_dir": "out", "output_dir": "out", "seed": "seed",
}  # fmt: skip
"""argparse destinations the train command gets as placeholders, and the placeholder name."""


@dataclass
class _Found:
    model_classes: list[str] = field(default_factory=list)
    model_factories: list[str] = field(default_factory=list)
    train_data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    data_classes: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    optimizers: list[str] = field(default_factory=list)
    num_classes: int | None = None
    train_command: str | None = None
    metrics: str | None = None


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    return ""


def _module_name(root: Path, path: Path) -> str | None:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def _allowed(path: Path, guard: PathGuard | None) -> bool:
    if guard is None:
        return True
    try:
        guard(path)
    except InvalidArgument:  # PathNotAllowed included: a link out of the roots is not read
        return False
    return True


def _files(root: Path, guard: PathGuard | None = None) -> list[Path]:
    out: list[Path] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(p in SKIP_DIRS or p.startswith(".") for p in rel[:-1]):
            continue
        if not _allowed(path, guard):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        out.append(path)
        if len(out) >= MAX_FILES:
            break
    return out


def _all_defaults(fn: ast.FunctionDef, *, skip_self: bool = False) -> bool:
    args = fn.args.posonlyargs + fn.args.args
    if skip_self:
        args = args[1:]
    return len(fn.args.defaults) >= len(args) and all(d is not None for d in fn.args.kw_defaults)


def _returns_call_of(fn: ast.FunctionDef, names: set[str]) -> bool:
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Return)
            and isinstance(node.value, ast.Call)
            and _name(node.value.func) in names
        ):
            return True
    return False


def _scan(root: Path, guard: PathGuard | None = None) -> _Found:
    found = _Found()
    trees: list[tuple[Path, str, ast.Module]] = []
    for path in _files(root, guard):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        module = _module_name(root, path)
        if module is not None:
            trees.append((path, module, tree))
    # Classes: nn.Module / LightningModule subclasses (also through project base classes).
    model_names: set[str] = set()
    data_names: set[str] = set()
    changed = True
    while changed:
        changed = False
        for _, _, tree in trees:
            for node in tree.body:
                if not isinstance(node, ast.ClassDef):
                    continue
                bases = {_name(b) for b in node.bases}
                if node.name not in model_names and bases & (MODULE_BASES | model_names):
                    model_names.add(node.name)
                    changed = True
                if node.name not in data_names and bases & (DATASET_BASES | data_names):
                    data_names.add(node.name)
                    changed = True
    for path, module, tree in trees:
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                init = next(
                    (
                        n
                        for n in node.body
                        if isinstance(n, ast.FunctionDef) and n.name == "__init__"
                    ),
                    None,
                )
                no_args = init is None or _all_defaults(init, skip_self=True)
                if node.name in model_names and no_args:
                    found.model_classes.append(f"{module}:{node.name}")
                if node.name in data_names and no_args:
                    found.data_classes.append(f"{module}:{node.name}")
            elif isinstance(node, ast.FunctionDef) and _all_defaults(node):
                ref = f"{module}:{node.name}"
                ret = ast.unparse(node.returns) if node.returns else ""
                lname = node.name.lower()
                if _returns_call_of(node, model_names) or (
                    "model" in lname and lname.startswith(("build", "make", "get", "create"))
                ):
                    found.model_factories.append(ref)
                elif (
                    any(r in ret for r in DATA_RETURNS)
                    or _returns_call_of(node, data_names)
                    or ("dataset" in lname or "loader" in lname)
                ):
                    if "train" in lname:
                        found.train_data.append(ref)
                    elif any(k in lname for k in ("val", "valid", "dev", "test")):
                        found.val_data.append(ref)
            elif isinstance(node, ast.Assign) and found.num_classes is None:
                for target in node.targets:
                    if (
                        isinstance(target, ast.Name)
                        and target.id.lower() in ("num_classes", "n_classes")
                        and isinstance(node.value, ast.Constant)
                        and isinstance(node.value.value, int)
                    ):
                        found.num_classes = node.value.value
        _calls(tree, found)
        if path.parent == root and path.name.startswith("train") and found.train_command is None:
            found.train_command = _train_command(path.name, tree)
            if (
                found.train_command
                and "{out}" in found.train_command
                and _mentions(tree, "metrics.jsonl")
            ):
                found.metrics = "{out}/metrics.jsonl"
    # Validation data last: prefer "val" over "test".
    found.val_data.sort(key=lambda r: "test" in r.split(":")[1].lower())
    return found


def _mentions(tree: ast.Module, text: str) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and text in n.value
        for n in ast.walk(tree)
    )


def _calls(tree: ast.Module, found: _Found) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in LOSSES and f"torch.nn:{name}" not in found.losses:
            found.losses.append(f"torch.nn:{name}")
        elif name in FUNCTIONAL_LOSSES and f"torch.nn.functional:{name}" not in found.losses:
            found.losses.append(f"torch.nn.functional:{name}")
        elif name in OPTIMIZERS and f"torch.optim:{name}" not in found.optimizers:
            found.optimizers.append(f"torch.optim:{name}")


def _train_command(filename: str, tree: ast.Module) -> str:
    options: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _name(node.func) == "add_argument"):
            continue
        flags = [
            a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        long = next((f for f in flags if f.startswith("--")), None)
        dest = next(
            (k.value.value for k in node.keywords if k.arg == "dest"
             and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)),
            None,
        )  # fmt: skip
        if long is None:
            continue
        key = (dest or long[2:]).replace("-", "_")
        if key in PLACEHOLDERS and long not in options:
            options.append(f"{long} {{{PLACEHOLDERS[key]}}}")
    # Options built in a loop (for key in [...]: add_argument("--" + key)) are found by name.
    dynamic = _has_dynamic_add_argument(tree)
    for node in ast.walk(tree) if dynamic else ():
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            key = node.value
            if key in PLACEHOLDERS and not any(f"{{{PLACEHOLDERS[key]}}}" in o for o in options):
                options.append(f"--{key.replace('_', '-')} {{{PLACEHOLDERS[key]}}}")
    return " ".join([f"python {filename}", *options])


def _has_dynamic_add_argument(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and _name(node.func) == "add_argument"
            and node.args
            and isinstance(node.args[0], ast.BinOp)
        ):
            return True
    return False


def _line(key: str, choices: list[str], what: str) -> list[str]:
    if not choices:
        return [f'# {key} = "package.module:name"  # TODO: no {what} found; fill in']
    lines = [f"{key} = {json.dumps(choices[0])}"]
    if len(choices) > 1:
        others = ", ".join(choices[1:6])
        lines.append(f"# other candidates for {key}: {others}")
    return lines


def propose_entry_table(project_dir: str | Path, *, guard: PathGuard | None = None) -> str:
    """A starting ``[tool.dlpilot]`` table (TOML text) for the project, read statically: model
    classes and factories, dataset classes and functions, the loss and optimizer the code uses,
    and the train command from a ``train*.py`` with argparse. Check every line before use.
    ``guard`` (the server's roots): files it refuses (links out of the roots) are not read."""
    root = Path(project_dir).expanduser()
    if not root.is_dir():
        raise ProjectError(f"project directory {str(root)!r} does not exist")
    found = _scan(root.resolve(), guard)
    lines = [
        "# Proposed by `dlpilot init` from reading the code; check every line.",
        "[tool.dlpilot]",
    ]
    lines += _line("model", found.model_factories + found.model_classes, "nn.Module model")
    lines += _line("train_data", found.train_data + found.data_classes, "training Dataset")
    val = [v for v in found.val_data if v not in found.train_data]
    if val:
        lines += _line("val_data", val, "validation Dataset")
    else:
        lines.append('# val_data = "package.module:name"  # no validation data factory found')
    lines += _line("loss", found.losses or ["torch.nn:CrossEntropyLoss"], "loss")
    if not found.losses:
        lines[-1] += "  # a guess: no loss found in the code"
    lines += _line("optimizer", found.optimizers or ["torch.optim:AdamW"], "optimizer")
    if not found.optimizers:
        lines[-1] += "  # a guess: no optimizer found in the code"
    if found.num_classes is not None:
        lines.append(f"num_classes = {found.num_classes}")
    if found.train_command:
        lines.append(f"train_command = {json.dumps(found.train_command)}")
    if found.metrics:
        lines.append(f"metrics = {json.dumps(found.metrics)}")
    return "\n".join(lines) + "\n"


_HEADER = re.compile(r"^\s*\[\s*tool\.dlpilot(\.[^\]]*)?\s*\]")
_ANY_HEADER = re.compile(r"^\s*\[")


def _strip_table(text: str) -> str:
    out: list[str] = []
    inside = False
    for line in text.splitlines(keepends=True):
        if _HEADER.match(line):
            inside = True
            continue
        if inside and _ANY_HEADER.match(line):
            inside = False
        if not inside:
            out.append(line)
    return "".join(out).rstrip("\n") + "\n"


def write_entry_table(
    project_dir: str | Path, *, force: bool = False, guard: PathGuard | None = None
) -> Path:
    """Append the proposed table to ``pyproject.toml`` (or create ``dlpilot.toml`` when there is
    no pyproject). An existing table is kept unless ``force``, which replaces it in the file that
    holds it (other tables there are kept). Returns the file written; the result is parsed before
    anything is written, and written atomically (a crash leaves the old file).

    The file is written where its links lead (a ``pyproject.toml`` that links elsewhere is
    written there), and with ``guard`` (the server's roots) that final path, and every file read
    on the way, must be allowed: a link out of the roots is refused before anything is read."""
    if not isinstance(force, bool):
        raise InvalidArgument(f"force must be true or false, got {force!r}")
    root = Path(project_dir).expanduser()
    if not root.is_dir():
        raise ProjectError(f"project directory {str(root)!r} does not exist")
    if guard is not None:
        for name in (PYPROJECT, DLPILOT_TOML):
            if (root / name).is_symlink() or (root / name).exists():
                guard(root / name)
    hit = find_table(root)
    if hit is not None and not force:
        raise ProjectError(f"{hit[0]} already has a dlpilot table; pass force=True to replace it")
    table = propose_entry_table(root, guard=guard)
    if hit is not None:
        target = hit[0]  # replace the table where it is
    elif (root / PYPROJECT).is_file():
        target = root / PYPROJECT
    else:
        target = root / DLPILOT_TOML
    final = guard(target) if guard is not None else target.resolve()
    if not final.parent.is_dir():
        raise ProjectError(f"cannot write {target}: it links to {final}, in no directory")
    before = final.read_text(encoding="utf-8") if final.is_file() else ""
    if target.name == DLPILOT_TOML:
        after = table
    else:
        kept = _strip_table(before) if hit is not None else before
        after = kept.rstrip("\n") + ("\n\n" if kept.strip() else "") + table
    try:
        tomllib.loads(after)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(
            f"writing the table would break {target} ({exc}); left unchanged"
        ) from exc
    atomic_write_text(final, after)
    return target

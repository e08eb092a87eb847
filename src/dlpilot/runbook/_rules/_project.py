"""What the rules know about a project from reading it (``ast``, no import, nothing runs).

:func:`scan_project` finds the training entry point (a script that parses flags and trains), its
tunable flags and defaults (the baseline), the flag that takes an output directory, where metrics
land, what the code logs, the loss and output layer (the task type), the data splits, the
architecture, optimizer and schedule.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, Field

from dlpilot.runbook._rules._flags import Flag, read_flags
from dlpilot.tools.curves.readers._names import normalize_metric_name

MAX_FILES = 400
"""Python files read at most: the project's own code, not a vendored tree."""

MAX_FILE_BYTES = 512_000
"""Larger files are generated or vendored; skipped."""

SKIP_DIRS = {".git", ".venv", "venv", "env", "node_modules", "build", "dist", "site-packages",
             "__pycache__", "tests", "test", "runs", "wandb", "lightning_logs", ".dlpilot",
             "outputs", "mlruns"}  # fmt: skip

CLASSIFICATION_LOSSES = {
    "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "cross_entropy", "nll_loss",
    "binary_cross_entropy_with_logits", "binary_cross_entropy", "MultiLabelSoftMarginLoss",
    "FocalLoss",
}  # fmt: skip
REGRESSION_LOSSES = {"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "mse_loss", "l1_loss",
                     "smooth_l1_loss", "huber_loss", "GaussianNLLLoss"}  # fmt: skip
SEQUENCE_MARKERS = {"CTCLoss", "ctc_loss", "LSTM", "GRU", "TransformerDecoder", "GPT2LMHeadModel",
                    "AutoModelForCausalLM", "AutoModelForSeq2SeqLM"}  # fmt: skip
DETECTION_MARKERS = {
    "FasterRCNN", "MaskRCNN", "RetinaNet", "fasterrcnn_resnet50_fpn", "YOLO", "box_iou",
    "generalized_box_iou", "nms", "batched_nms", "FCOS", "SSD",
}  # fmt: skip
OPTIMIZERS = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
              "RAdam", "Adafactor", "LAMB", "Lion"}  # fmt: skip
ARCH_MARKERS = (("Transformer", "Transformer"), ("MultiheadAttention", "Transformer"),
                ("resnet", "ResNet"), ("ResNet", "ResNet"), ("efficientnet", "EfficientNet"),
                ("vit_", "ViT"), ("LSTM", "LSTM"), ("GRU", "GRU"), ("Conv2d", "CNN"),
                ("Conv1d", "1-D CNN"), ("Linear", "MLP"))  # fmt: skip
METRIC_FILES = ("metrics.jsonl", "metrics.csv", "trainer_state.json", "log.jsonl", "log.csv",
                "history.csv", "history.jsonl", "progress.csv")  # fmt: skip
SPLIT_WORDS = {"train": ("train",), "dev": ("val", "valid", "validation", "dev", "eval"),
               "test": ("test",), "train_dev": ("train_dev", "traindev", "train-dev")}  # fmt: skip
TUNABLE_SKIP = {
    "seed", "resume", "device", "num_workers", "workers", "log_every", "print_freq",
    "log_interval", "eval_every", "save_every", "gpu", "gpus", "local_rank",
}  # fmt: skip
"""Flags that are not hyperparameters: seeds, paths, devices, logging cadence."""
LOG_CALLS = ("log", "add_scalar", "log_metric", "log_metrics")


class Where(BaseModel):
    """A fact and where it was read: ``file:line``."""

    name: str
    file: str
    line: int


class ProjectScan(BaseModel):
    """What the project's code says, for the rules."""

    root: str
    entry: str | None = Field(default=None, description="the training script, project-relative")
    entry_reason: str = ""
    flags: list[Flag] = Field(default_factory=list)
    output_flag: str | None = None
    seed_flag: str | None = None
    metrics: str | None = Field(default=None, description="where metrics land, with {trial_dir}")
    metrics_reason: str = ""
    logged: list[str] = Field(default_factory=list, description="normalized names the code logs")
    losses: list[Where] = Field(default_factory=list)
    markers: list[Where] = Field(default_factory=list, description="sequence / detection names")
    output_units: list[int] = Field(default_factory=list, description="out sizes of last Linear")
    splits: dict[str, list[Where]] = Field(default_factory=dict)
    architecture: str = ""
    optimizer: str = ""
    schedule: str = ""
    description: str = ""
    has_entry_table: bool = False
    files: int = 0

    @property
    def tunable(self) -> list[Flag]:
        """Flags a trial may set: numbers or choices with a default, not seeds, paths, devices."""
        return [
            f
            for f in self.flags
            if f.tunable and f.dest.lower() not in TUNABLE_SKIP and f.dest != self.output_flag
        ]

    def flag(self, dest: str) -> Flag | None:
        return next((f for f in self.flags if f.dest == dest), None)


def scan_project(root: Path) -> ProjectScan:
    root = root.resolve()
    scan = ProjectScan(root=str(root))
    trees: list[tuple[str, ast.Module]] = []
    for path in _files(root):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        trees.append((path.relative_to(root).as_posix(), tree))
    scan.files = len(trees)
    _entry(root, trees, scan)
    arch: dict[str, int] = {}
    optim: dict[str, int] = {}
    for rel, tree in trees:
        _facts(rel, tree, scan, arch, optim)
    scan.architecture = _architecture(arch)
    scan.optimizer = max(optim, key=lambda k: optim[k]) if optim else ""
    scan.description = _description(root, dict(trees).get(scan.entry or ""))
    scan.has_entry_table = _has_entry_table(root)
    return scan


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p in SKIP_DIRS or p.startswith(".") for p in parts[:-1]):
            continue
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
        except OSError:
            continue
        out.append(path)
        if len(out) >= MAX_FILES:
            break
    return out


def _is_main(tree: ast.Module) -> bool:
    """A script that runs when executed: a ``__main__`` block, a Hydra main, or a plain script
    that parses its arguments or trains at module level (nanoGPT, most examples)."""
    return (
        any(isinstance(n, ast.If) and "__main__" in ast.unparse(n.test) for n in tree.body)
        or any(
            isinstance(n, ast.FunctionDef)
            and any(ast.unparse(d).split("(")[0].endswith("hydra.main") for d in n.decorator_list)
            for n in tree.body
        )
        or any(
            not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and any(k in ast.unparse(n) for k in ("parse_args(", ".backward(", ".step("))
            for n in tree.body
        )
    )


def _trains(tree: ast.Module) -> bool:
    text = ast.unparse(tree)
    return any(k in text for k in (".backward(", ".step()", ".fit(", "Trainer(", ".train()"))


def _entry(root: Path, trees: list[tuple[str, ast.Module]], scan: ProjectScan) -> None:
    best: tuple[int, str, ast.Module] | None = None
    for rel, tree in trees:
        if not _is_main(tree):
            continue
        name = Path(rel).stem.lower()
        score = 0
        score += 4 if name.startswith("train") else 2 if name in ("main", "run", "fit") else 0
        score += 3 if _trains(tree) else 0
        score += 1 if rel.count("/") == 0 else 0
        flags, _ = read_flags(tree, root / rel)
        score += 2 if flags else 0
        if score >= 4 and (best is None or score > best[0]):
            best = (score, rel, tree)
    if best is None:
        scan.entry_reason = (
            "no script with a __main__ block that trains (backward / step / fit) was found"
        )
        return
    _, rel, tree = best
    scan.entry = rel
    scan.entry_reason = f"{rel}: a __main__ script" + (
        " that trains" if _trains(tree) else ""
    )  # fmt: skip
    scan.flags, scan.output_flag = read_flags(tree, root / rel)
    scan.seed_flag = next((f.dest for f in scan.flags if f.dest.lower() == "seed"), None)
    _metrics_target(tree, scan)
    scan.schedule = _schedule(tree)


def _strings(tree: ast.Module) -> list[tuple[str, int]]:
    return [
        (n.value, n.lineno)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _metrics_target(tree: ast.Module, scan: ProjectScan) -> None:
    strings = _strings(tree)
    for text, line in strings:
        base = text.rsplit("/", 1)[-1]
        if base in METRIC_FILES or re.fullmatch(r"[\w.-]*metrics[\w.-]*\.(jsonl|csv|json)", base):
            scan.metrics = "{trial_dir}/" + base if scan.output_flag else None
            scan.metrics_reason = f"{scan.entry}:{line} writes {base!r}" + (
                f" under --{scan.output_flag}" if scan.output_flag else ""
            )
            break
    if scan.metrics is None and scan.output_flag:
        source = ast.unparse(tree)
        if any(k in source for k in ("SummaryWriter", "CSVLogger", "TensorBoardLogger", "Trainer")):
            scan.metrics = "{trial_dir}"
            scan.metrics_reason = "the script logs through a logger into its output directory"
    keys: set[str] = set()
    # dicts kept in a variable: logged when the variable is handed to a call
    # (`row = {...}; f.write(json.dumps(row))`); a checkpoint's keys never read as metrics below
    held: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    held.setdefault(target.id, set()).update(_dict_keys(node.value))
    for node in ast.walk(tree):
        # dicts handed to a call (json.dumps, writer.writerow, wandb.log, ...) are what is logged
        if isinstance(node, ast.Call):
            saves = ast.unparse(node.func).split(".")[-1] in _SAVE_CALLS
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for inner in ast.walk(arg):
                    if isinstance(inner, ast.Dict):
                        keys |= _dict_keys(inner)
                    elif isinstance(inner, ast.Name) and inner.id in held and not saves:
                        keys |= held[inner.id]
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).split(".")[-1] in LOG_CALLS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            keys.add(node.args[0].value)
    logged = []
    for text in sorted(keys):
        name = normalize_metric_name(text)
        if "/" in name and name.split("/")[0] in ("train", "val", "test", "train-dev"):
            logged.append(name)
    scan.logged = sorted(set(logged))


_SAVE_CALLS = frozenset({"save", "save_checkpoint", "save_state", "load_state_dict"})
"""Calls a dict variable goes to as a checkpoint or state, not as logged metrics."""


def _dict_keys(node: ast.Dict) -> set[str]:
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _schedule(tree: ast.Module) -> str:
    source = ast.unparse(tree)
    parts = []
    if "warmup" in source.lower():
        parts.append("warmup")
    for marker, name in (("Cosine", "cosine decay"), ("cos(", "cosine decay"),
                         ("OneCycle", "one-cycle"), ("StepLR", "step decay"),
                         ("LinearLR", "linear decay"), ("ExponentialLR", "exponential decay"),
                         ("get_linear_schedule", "linear decay")):  # fmt: skip
        if marker in source and name not in parts:
            parts.append(name)
            break
    return " + ".join(parts) if parts else "constant"


def _facts(
    rel: str, tree: ast.Module, scan: ProjectScan, arch: dict[str, int], optim: dict[str, int]
) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func).split(".")[-1]
            where = Where(name=name, file=rel, line=node.lineno)
            if name in CLASSIFICATION_LOSSES or name in REGRESSION_LOSSES:
                scan.losses.append(where)
            if name in SEQUENCE_MARKERS or name in DETECTION_MARKERS:
                scan.markers.append(where)
            if name in OPTIMIZERS:
                optim[name] = optim.get(name, 0) + 1
            for marker, family in ARCH_MARKERS:
                if marker in name:
                    arch[family] = arch.get(family, 0) + 1
            if name == "Linear" and len(node.args) >= 2:
                out = node.args[1]
                if isinstance(out, ast.Constant) and isinstance(out.value, int):
                    scan.output_units.append(out.value)
        if isinstance(node, ast.FunctionDef | ast.Assign | ast.Call):
            _split_fact(rel, node, scan)


def _split_fact(rel: str, node: ast.AST, scan: ProjectScan) -> None:
    if isinstance(node, ast.FunctionDef):
        names = [node.name]
    elif isinstance(node, ast.Assign):
        names = [ast.unparse(t) for t in node.targets]
    else:
        assert isinstance(node, ast.Call)
        names = [
            str(k.value.value)
            for k in node.keywords
            if k.arg == "split" and isinstance(k.value, ast.Constant)
        ]
        if not names:
            return
    for text in names:
        low = text.lower()
        if not any(k in low for k in ("data", "loader", "set", "split", "x_", "y_")) and not (
            isinstance(node, ast.Call)
        ):
            continue
        for split, words in SPLIT_WORDS.items():
            tokens = re.split(r"[^a-z]+", low)
            hit = any(w in tokens for w in words) if split != "train_dev" else any(
                w in low for w in words
            )  # fmt: skip
            if split == "train" and any(w in low for w in SPLIT_WORDS["train_dev"]):
                hit = False
            if hit:
                found = scan.splits.setdefault(split, [])
                if len(found) < 5:
                    found.append(Where(name=text, file=rel, line=getattr(node, "lineno", 1)))


def _architecture(arch: dict[str, int]) -> str:
    order = ["Transformer", "ViT", "ResNet", "EfficientNet", "LSTM", "GRU", "CNN", "1-D CNN",
             "MLP"]  # fmt: skip
    for family in order:
        if family in arch:
            return family
    return ""


def _description(root: Path, entry: ast.Module | None) -> str:
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            text = data.get("project", {}).get("description")
            if isinstance(text, str) and text.strip():
                return text.strip()
        except (OSError, ValueError):
            pass
    if entry is not None:
        doc = ast.get_docstring(entry)
        if doc:
            return doc.strip().splitlines()[0]
    readme = root / "README.md"
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and not line.startswith(("#", "!", "[")):
                return line.strip()
    return ""


def _has_entry_table(root: Path) -> bool:
    for name in ("pyproject.toml", "dlpilot.toml"):
        path = root / name
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            table = data.get("tool", {}).get("dlpilot") if name == "pyproject.toml" else data
            if isinstance(table, dict) and "model" in table:
                return True
    return False


__all__ = ["ProjectScan", "Where", "scan_project"]

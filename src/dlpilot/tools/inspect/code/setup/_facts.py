"""One pass over a file that gathers every fact the setup rules need.

All setup rules read the same :class:`FileFacts`. It is computed once per file (the last file's
facts are cached by identity, so the second rule asking gets them for free), from cheap substring
tests first and at most one walk of the tree. Facts are small (lines, names, booleans), so rules can
keep them between files with bounded memory. Project-wide text signals ("a seed is set somewhere")
are regex searches run lazily: a rule that already saw a signal never asks again.
"""

from __future__ import annotations

import ast
import bisect
import re
import weakref
from dataclasses import dataclass, field
from typing import Literal

from dlpilot.tools.inspect._base import SourceFile
from dlpilot.tools.inspect.code.setup._names import (
    Role,
    base_name,
    const_str,
    dotted,
    has_star_kwargs,
    is_false,
    is_test_path,
    kwarg,
    last_name,
    line_of,
    role,
    target_names,
)

Framework = Literal["hf", "lightning"]


# --- project-wide text signals (lenient on purpose: "absent everywhere" must be sure) ---------
# Plain substring tests first (fast); a regex runs only on a file that holds one of its gate
# literals. A veto removes text that switches the feature off before anything is tested.
@dataclass(frozen=True, slots=True)
class _Signal:
    literals: tuple[str, ...]
    pattern: re.Pattern[str] | None = None
    gate: tuple[str, ...] = ()
    veto: re.Pattern[str] | None = None
    veto_gate: tuple[str, ...] = ()


# Text that names held-out data without using it: comments, and a Trainer told it has none.
_NO_HELDOUT = re.compile(
    r"#[^\n]*|\beval_dataset\s*=\s*None\b|\bdo_eval\s*=\s*False\b"
    r"|\beval(?:uation)?_strategy\s*=\s*['\"]no['\"]"
)
_NO_HELDOUT_GATE = ("#", "eval_dataset", "do_eval", "_strategy")

SIGNALS: dict[str, _Signal] = {
    # any call of a name ending in "seed" (manual_seed, seed_everything, set_seed, random.seed...),
    # but not a generator seeded for a split, nor reading the seed, nor defining a helper
    "seed": _Signal(
        ("seed(", "seed_everything", "seed_all(", "init_seeds(", "set_seed"),
        veto=re.compile(
            r"(?:Generator\(\)|\bg|\bgen|\bgenerator|\brng)\.manual_seed\(|initial_seed\("
            r"|def \w*seed\w*\("
        ),
        veto_gate=("seed",),
    ),
    "determinism": _Signal(
        ("use_deterministic_algorithms(True", "full_determinism", "CUBLAS_WORKSPACE_CONFIG"),
        re.compile(
            r"use_deterministic_algorithms\s*\((?!\s*False)"
            r"|\bdeterministic\s*=(?!=|\s*(?:False|None|0\b))"
        ),
        ("deterministic",),
    ),
    "save": _Signal(
        (
            "torch.save(",
            "th.save(",
            "xm.save(",
            "fabric.save(",
            "accelerator.save(",
            "save_checkpoint",
            "save_pretrained",
            "save_model",
            "save_state",
            "ModelCheckpoint",
            "save_file(",
            "save_weights",
            "jit.save(",
            "model.save(",
            "net.save(",
        )
    ),
    # a framework's resume argument, an optimizer's state loaded, or a load call next to the word
    # resume / restore (``if args.resume: ckpt = torch.load(args.resume)``); the word alone, in a
    # variable name or a comment, restores nothing
    "resume": _Signal(
        ("ckpt_path", "resume_from_checkpoint", "load_checkpoint", "load_state("),
        re.compile(
            r"(?:optim\w*|opt\w*)\.load_state_dict\(|load_state_dict\(\s*\w+\[['\"]optim"
            r"|(?:[Rr]esum|RESUM|[Rr]estor)\w*[^\n]*(?:\n[^\n]*){0,8}?\bload\w*\("
            r"|\bload\w*\([^\n]*(?:[Rr]esum|RESUM|[Rr]estor)"
        ),
        ("load",),
    ),
    "validation": _Signal(
        (
            "eval",
            "valid",
            "val_",
            "_val",
            "test_step",
            "test_loader",
            "test_dataloader",
            "testloader",
            "valloader",
            "dev_loader",
        ),
        # a function named for testing, or held-out data named "test..." / "testing...": scripts
        # that evaluate on their test split each epoch (``def test():`` over ``testing_loader``,
        # a held-out ``test_input`` scored under no_grad)
        re.compile(
            r"\bdef\s+_?test(?:ing)?(?:_\w+)?\s*\((?!\s*self\s*[,)])"
            r"|\btest(?:ing)?_?(?:\w+_)?(?:loader|data|dataset|set|input|inputs|target|targets|x|y|X|Y|"
            r"batch|images|samples)\b"
        ),
        ("test",),
        veto=_NO_HELDOUT,
        veto_gate=_NO_HELDOUT_GATE,
    ),
    "early_stop": _Signal(
        (
            "early_stop",
            "earlystop",
            "EarlyStop",
            "best_",
            "_best",
            "load_best_model_at_end",
            "save_top_k",
            "no_improve",
            "without_improvement",
        ),
        # a patience counter (``self.args.patience`` too), a monitored metric, or the best score
        # kept by comparison (``if acc > best: best = acc``) or saved as ``best.pt``
        re.compile(
            r"patience\w*\s*[<>]|[<>]=?\s*(?:\w+\.)*\w*patience|monitor\s*="
            r"|[<>]=?\s*(?:\w+\.)*best\b|\bbest\s*[<>]|\bbest\.(?:pt|pth|ckpt|bin|tar)\b"
        ),
        ("patience", "monitor", "best"),
    ),
    "schedule": _Signal(
        (
            "schedul",
            "Schedul",
            "warmup",
            "warm_up",
            "Warmup",
            "adjust_learning_rate",
            "adjust_lr",
            "lr_lambda",
            "cosine",
            "Cosine",
            "OneCycle",
            "StepLR",
            "ExponentialLR",
            "poly_lr",
            "lr_decay",
            "decay_lr",
            "set_lr(",
        ),
        re.compile(r"\[['\"]lr['\"]\]\s*=(?!=)"),
        ("'lr']", '"lr"]'),
        veto=re.compile(r"lr_scheduler_type\s*=\s*['\"]constant['\"]"),
        veto_gate=("lr_scheduler_type",),
    ),
    "clip": _Signal(
        (
            "clip_grad",
            "gradient_clip",
            "max_grad_norm",
            "clip_gradients",
            "grad_clip",
            "clip_norm",
            "clip_value",
        ),
        veto=re.compile(
            r"(?:max_grad_norm|gradient_clip_val|grad_clip|clip_grad)\w*\s*=\s*(?:0(?:\.0*)?|None)\b"
        ),
        veto_gate=("max_grad_norm", "gradient_clip_val", "grad_clip", "clip_grad"),
    ),
    "track": _Signal(
        (
            "wandb",
            "mlflow",
            "SummaryWriter",
            "tensorboard",
            "add_scalar",
            "comet_ml",
            "neptune",
            "clearml",
            "import aim",
            "from aim",
            "swanlab",
            "dvclive",
            "trackio",
            "visdom",
            "csv.writer",
            "DictWriter",
            ".to_csv(",
            "json.dump",
            "jsonl",
            "report_to",
            "CSVLogger",
            "TensorBoardLogger",
            "WandbLogger",
            "MLFlowLogger",
            "CometLogger",
            "NeptuneLogger",
            "self.log(",
            "self.log_dict(",
            "log_metric",
            "accelerator.log(",
            "fabric.log",
            "log_hyperparams",
        )
    ),
    "heldout": _Signal(
        (
            "random_split",
            "train_test_split",
            "KFold",
            "Subset",
            "train=False",
            "train = False",
            "split=",
            "eval_dataset",
            "val_",
            "_val",
            "valid",
            "test_",
            "_test",
            "testset",
            "valset",
            "testloader",
            "valloader",
            "eval",
            "'val'",
            '"val"',
            "'test'",
            '"test"',
            "/val",
            "/test",
            "'dev'",
            '"dev"',
            "dev_",
            "holdout",
            "is_train",
        ),
        veto=_NO_HELDOUT,
        veto_gate=_NO_HELDOUT_GATE,
    ),
    "worker_init": _Signal(("worker_init_fn", "generator=", "generator =")),
}


def _search(name: str, text: str) -> bool:
    sig = SIGNALS[name]
    if not _hit(sig, text):
        return False
    # a veto only removes text, so it runs only where the signal shows
    if sig.veto is not None and any(g in text for g in sig.veto_gate):
        return _hit(sig, sig.veto.sub(" ", text))
    return True


def _hit(sig: _Signal, text: str) -> bool:
    if any(lit in text for lit in sig.literals):
        return True
    if sig.pattern is not None and any(g in text for g in sig.gate):
        return sig.pattern.search(text) is not None
    return False


# Training with no held-out data by nature: a generator trained against a discriminator / critic
# (GANs), or a policy trained on an environment (RL). torch.Generator() seeding a split is not a
# generator network.
_DISCRIMINATOR = re.compile(
    r"[Dd]iscriminator|\bnet_?D\b|\b(?:optimizer|optim|opt)_?D\b|\bD_(?:optim|opt|loss)"
    r"|\b(?:optimizer|optim|opt)_?(?:disc|critic)\b"
)
_GENERATOR = re.compile(
    r"\b(?!torch\.)\w*[Gg]enerator\b(?!\s*\(\s*(?:device\s*=[^)]*)?\))|\bnet_?G\b"
    r"|\b(?:optimizer|optim|opt)_?(?:G|gen)\b"
)
# random inputs made in the script, and anything that reads real data (a miss here is safe: the
# script is then judged as a training script)
_RANDOM_TENSOR = re.compile(r"\b(?:torch|th)\.(?:randn|rand|randint|normal)\(")
_DATA_SOURCE_LITERALS = (
    "Dataset",
    "dataset",
    "loader",
    "from data",
    "import data",
    "_data",
    "data_",
    "utils",
    "get_batch",
    "memmap",
    "okeniz",
    "yaml",
    "json",
    "load(",
    "load_",
    "read_",
    "open(",
    "loadtxt",
    "fromfile",
    "from_numpy",
    "fetch_",
    "Folder",
    "datasets",
    "torchvision",
    "torchaudio",
    "torchtext",
    "sklearn",
    "pandas",
    "glob",
    "listdir",
    "Path(",
    "argv",
    "data_dir",
    "data_path",
    "root=",
)
_DEFINED_HERE = re.compile(r"^\s*def\s+(\w+)\s*\(", re.MULTILINE)


def _reads_data(text: str, literal: str) -> bool:
    """Whether ``literal`` in ``text`` points at a data source. A literal that is part of a
    function name (``get_batch``, ``load_...``) does not when every such function is defined in
    this file: its body is part of the text, judged by the other literals (pytorch/examples'
    regression builds ``get_batch`` from ``torch.randn``; nanoGPT's reads a memmap)."""
    if literal not in text:
        return False
    if not literal.replace("_", "").isalpha():
        return True
    defined = set(_DEFINED_HERE.findall(text))
    if not defined:
        return True
    for m in re.finditer(r"\w*" + re.escape(literal) + r"\w*", text):
        if m.group(0) not in defined:
            return True
    return False


_ENVIRONMENT = re.compile(r"\bgym(?:nasium)?\.make\(|\benv\.step\(")
# recurrent / transformer models (train.no-grad-clip applies only to them)
_SEQ_MODEL = re.compile(
    r"\bnn\.(?:LSTM|GRU|RNN|LSTMCell|GRUCell|RNNCell|Transformer\w*|MultiheadAttention)\b"
    r"|\b(?:TransformerEncoder\w*|TransformerDecoder\w*|MultiheadAttention|VisionTransformer)\s*\("
    r"|\bAutoModel\w*\.from_pretrained|\b\w+For(?:CausalLM|SequenceClassification"
    r"|TokenClassification|QuestionAnswering|MaskedLM|Seq2SeqLM|ConditionalGeneration"
    r"|ImageClassification|MultipleChoice|PreTraining|AudioClassification|CTC)\b"
)
_OPTIMIZER_IN_FILE = re.compile(r"optim|Optimizer|\.step\(")
_SCHEDULER_IN_FILE = re.compile(
    r"lr_scheduler|Scheduler\b|get_\w*schedule\w*\(|OneCycleLR|StepLR|CosineAnnealing|LambdaLR"
    r"|ReduceLROnPlateau"
)
# Absolute, machine-specific locations: a user's home (Linux, macOS, Windows, root), a Windows
# drive, cluster file systems and Colab's Google Drive. System and shared locations (/tmp, /dev,
# /proc, /etc, /usr, /opt, /var) and container mounts (/mnt, /data, /workspace) are portable
# enough and not reported; ``~/...`` is portable through ``expanduser``. A bare location prefix
# ("/root/", "/scratch/") names no machine's path: something must follow it.
_MACHINE_PATH = re.compile(
    r"(?:^|[\s=\"'(,;])((?:/home/[^/\s\"']+|/Users/[^/\s\"']+)/[^\s\"',;]*"
    r"|(?:/root|/scratch|/gpfs|/lustre|/content/drive)/[^\s\"',;]+"
    r"|[A-Za-z]:\\{1,2}[^\s\"',;]+|[A-Za-z]:/[^\s\"',;/]+[^\s\"',;]*)"
)
_PATH_LITERALS = (
    "/home/",
    "/Users/",
    "/root/",
    "/scratch/",
    "/gpfs/",
    "/lustre/",
    "/content/drive/",
)
_PATH_START = re.compile(r"/(?:home|Users|root|scratch|gpfs|lustre|content/drive)/")
_PRUNE_ABOVE = 30_000  # characters; smaller files are walked whole (cheap, and keeps context)
_SEQ_LITERALS = ("LSTM", "GRU", "RNN", "Transformer", "MultiheadAttention", "from_pretrained")
_AUGMENT_LITERALS = (
    "Random",
    "Compose",
    "Augment",
    "Flip",
    "Jitter",
    "CutMix",
    "MixUp",
    "Mixup",
    "train_transform",
    "transform_train",
    "train_tf",
    "tf_train",
    "train_aug",
    "aug_train",
)
_TRANSFORM_LITERALS = ("transform", "_tf", "tf_", "aug", "Aug")
_SAVE_LITERALS = (
    "torch.save(",
    "th.save(",
    "fabric.save(",
    "accelerator.save(",
    "xm.save(",
    "jit.save(",
    "save_checkpoint",
    "save_pretrained",
    "save_model",
    "save_state",
    "save_file(",
    "save_weights",
)
_STATS_LITERALS = ("fit_transform(", ".fit(", "mean(", "std(", "var(")
_TRAIN_NAME = re.compile(r"train(?:_|set|loader|ing_data)|_train\b|_trn\b")
_SPLIT_LITERALS = ("train_test_split", "random_split", ".sample(frac", "_train", "train_")
_EVAL_LITERALS = ("val", "test", "eval", "dev")
_SHUFFLE_ELSEWHERE = re.compile(
    r"(?<![\w=])shuffle\(|IterableDataset|streaming\s*=\s*True|webdataset|\bwds\."
)

_MODULE_ALIASES = frozenset({"np", "numpy", "torch", "th", "pd", "pandas", "F", "math"})
_RANDOM_NOT_AUG = frozenset({"RandomSampler", "RandomState", "Random", "RandomDataset"})
_AUG_OPS = frozenset(
    {
        "ColorJitter",
        "RandAugment",
        "AutoAugment",
        "TrivialAugmentWide",
        "AugMix",
        "HorizontalFlip",
        "VerticalFlip",
        "ShiftScaleRotate",
        "CoarseDropout",
        "Cutout",
        "GaussNoise",
        "ElasticTransform",
        "HueSaturationValue",
        "MixUp",
        "Mixup",
        "CutMix",
        "RandAug",
        "Flip",
        "Rotate",
        "Affine",
    }
)
_DATASET_IGNORED_KW = frozenset(
    {
        "transform",
        "target_transform",
        "transforms",
        "download",
        "augment",
        "augmentation",
        "aug",
        "transform_fn",
        "preprocess",
    }
)
_TORCHVISION_SETS = frozenset(
    {
        "MNIST",
        "FashionMNIST",
        "KMNIST",
        "EMNIST",
        "QMNIST",
        "CIFAR10",
        "CIFAR100",
        "SVHN",
        "STL10",
        "ImageNet",
        "CelebA",
        "Food101",
        "Flowers102",
        "OxfordIIITPet",
        "Caltech101",
        "Places365",
    }
)
_SPLITTERS = frozenset({"train_test_split", "random_split", "split", "Subset", "sample"})
_STATS_TARGET = re.compile(r"(?i)mean|std|\bmu\b|sigma|stat|scale|norm|var\b|min|max")
_PROGRESS_WORD = re.compile(r"(?i)epoch|step|iter|\bit\b|batch_idx|n_iter|update|global")
_SAVE_HELPER = re.compile(r"(?i)checkpoint|ckpt|snapshot")
_REGISTERS_CALLBACK = re.compile(r"(?i)callback|hook")
_MODEL_WORD = re.compile(
    r"(?i)model|state_dict|\bnet|net\b|weights|params|encoder|decoder|generator|discriminator|ema"
    r"|module|backbone|policy|\bactor|critic|unet|vae"
)
# optimizer, optim_g, opt, opt_d, d_opt, and a GAN's optG / optD / opt1 (capital or digit suffix)
_OPT_WORD = re.compile(r"(?i:optim|^opt$|^opt_|_opt$|_opt_)|^opt(?:[A-Z]|\d)")
_SCHED_WORD = re.compile(r"(?i)sched")
_WORKER_ARG_NAMES = ("num_workers", "workers", "n_workers", "num_worker", "dataloader_workers")
_RNG_METHODS = frozenset(
    {
        "random",
        "rand",
        "randn",
        "randint",
        "integers",
        "uniform",
        "normal",
        "choice",
        "shuffle",
        "permutation",
        "sample",
        "beta",
        "binomial",
        "poisson",
        "randrange",
        "gauss",
        "standard_normal",
    }
)


@dataclass(slots=True)
class _Assign:
    line: int
    names: list[str]
    targets: list[ast.expr]
    value: ast.expr
    loads: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Scope:
    name: str
    cls: str  # enclosing class name ("" outside classes)
    assigns: list[_Assign] = field(default_factory=list)
    calls: list[ast.Call] = field(default_factory=list)
    stats: list[tuple[int, str]] = field(default_factory=list)  # (line, data name)


@dataclass(slots=True)
class _Loader:
    line: int
    role: Role | None
    dataset: ast.expr | None
    dataset_key: str  # ast dump of the dataset expression, "" if unknown
    scope_key: str
    sampled: bool


@dataclass
class FileFacts:
    """What one file tells the setup rules. Lines are 1-based."""

    rel: str
    text: str = field(repr=False)
    is_test: bool = False
    backward_line: int | None = None
    has_step: bool = False
    manual_update: bool = False  # parameters updated by hand from their .grad
    trainer_line: int | None = None
    frameworks: set[Framework] = field(default_factory=set)
    # Trainer / TrainingArguments keyword values that switch a framework default off
    disabled: set[str] = field(default_factory=set)
    shuffle_issues: list[tuple[int, str, str]] = field(default_factory=list)
    overlap_issues: list[tuple[int, str]] = field(default_factory=list)
    augment_issues: list[tuple[int, str]] = field(default_factory=list)
    leak_issues: list[tuple[int, str, int]] = field(default_factory=list)
    path_issues: list[tuple[int, str]] = field(default_factory=list)
    ckpt_complete: bool = False
    # (line, saved, missing) of model saves that lack resume state, written during training
    ckpt_partial: list[tuple[int, list[str], list[str]]] = field(default_factory=list)
    # lines of weights-only saves written once, after training (a final export)
    ckpt_exports: list[int] = field(default_factory=list)
    ckpt_unknown: bool = False  # a checkpoint-like save whose contents are unknown
    # lines of saves into a temporary directory or file, deleted when the block ends (scratch
    # copies, such as in-run best-model selection): not checkpoints
    ckpt_scratch: list[int] = field(default_factory=list)
    random_datasets: list[tuple[str, int]] = field(default_factory=list)
    worker_loaders: list[tuple[int, str]] = field(default_factory=list)
    _signals: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def train_line(self) -> int | None:
        """Where this file trains: a ``backward()`` in a loop with an optimizer step, or a
        framework Trainer; ``None`` when it does not."""
        if self.is_test:
            return None
        if self.backward_line is not None and self.has_step:
            return self.backward_line
        return self.trainer_line

    def signal(self, name: str) -> bool:
        """Whether the file's text shows the named project signal (see ``SIGNALS``)."""
        if self.is_test:
            return False
        hit = self._signals.get(name)
        if hit is None:
            hit = _search(name, self.text)
            self._signals[name] = hit
        return hit

    def synthetic_data(self) -> bool:
        """Whether this file trains on random tensors it makes itself and reads no data at all
        (a throughput benchmark, a smoke test): held-out data would be more of the same noise."""
        if self.is_test:
            return False
        hit = self._signals.get("synthetic_data")
        if hit is None:
            text = self.text
            hit = _RANDOM_TENSOR.search(text) is not None and not any(
                _reads_data(text, lit) for lit in _DATA_SOURCE_LITERALS
            )
            self._signals["synthetic_data"] = hit
        return hit

    def holdout_moot(self) -> bool:
        """Whether this file trains a kind of model that has no held-out data by nature:
        adversarial (a generator and a discriminator) or reinforcement learning."""
        if self.is_test:
            return False
        hit = self._signals.get("holdout_moot")
        if hit is None:
            hit = _ENVIRONMENT.search(self.text) is not None or self.adversarial()
            self._signals["holdout_moot"] = hit
        return hit

    def adversarial(self) -> bool:
        """Whether this file trains a generator against a discriminator / critic (a GAN)."""
        if self.is_test:
            return False
        hit = self._signals.get("adversarial")
        if hit is None:
            text = self.text
            hit = _DISCRIMINATOR.search(text) is not None and _GENERATOR.search(text) is not None
            self._signals["adversarial"] = hit
        return hit

    def seq_model_line(self) -> int | None:
        if self.is_test:
            return None
        if not any(lit in self.text for lit in _SEQ_LITERALS):
            return None
        for m in _SEQ_MODEL.finditer(self.text):
            start = self.text.rfind("\n", 0, m.start()) + 1
            if "#" not in self.text[start : m.start()]:
                return line_of(self.text, m.start())
        return None

    def release_text(self) -> None:
        """Drop the file text once no rule needs more signals from it."""
        self.text = ""


_cache: tuple[weakref.ref[SourceFile], FileFacts] | None = None


def facts_for(f: SourceFile) -> FileFacts:
    """The facts of ``f``, computed once however many rules ask."""
    global _cache
    if _cache is not None and _cache[0]() is f:
        return _cache[1]
    facts = _collect(f)
    _cache = (weakref.ref(f), facts)
    return facts


def _collect(f: SourceFile) -> FileFacts:
    facts = FileFacts(rel=f.rel, text=f.text, is_test=is_test_path(f.rel))
    if facts.is_test:
        return facts
    t = f.text
    has_train = "train" in t
    need = _Needs(
        training=(".backward(" in t and (".step(" in t or ".grad" in t))
        or "Trainer(" in t
        or "TrainingArguments(" in t
        or "manual_backward(" in t
        or ("instantiate(" in t and "trainer" in t)
        or "scaler(" in t,
        loaders="DataLoader(" in t,
        saves="save" in t and any(lit in t for lit in _SAVE_LITERALS),
        augment=any(lit in t for lit in _AUGMENT_LITERALS)
        and any(lit in t for lit in _TRANSFORM_LITERALS),
        leak=has_train
        and any(lit in t for lit in _SPLIT_LITERALS)
        and any(lit in t for lit in _STATS_LITERALS),
        roles=has_train
        and (".fit(" in t or _TRAIN_NAME.search(t) is not None)
        and any(lit in t for lit in _EVAL_LITERALS),
        paths=_PATH_START.search(t) is not None or _has_windows_drive(t),
        datasets="__getitem__" in t and "random" in t,
    )
    if need.any():
        _Walker(f, facts, need).run()
    return facts


def _has_windows_drive(t: str) -> bool:
    """A string literal that starts with a drive (``"C:\\..."``, ``'D:/...'``); no regex."""
    for sep in (":\\", ":/"):
        i = t.find(sep)
        while i >= 2:
            if t[i - 1].isalpha() and t[i - 2] in "\"'":
                return True
            i = t.find(sep, i + 2)
    return False


def _hint_lines(t: str, need: _Needs) -> list[int]:
    """Line numbers where a file shows something a rule looks at."""
    lits: list[str] = []
    if need.training:
        lits += (".backward(", ".step(", "Trainer(", "TrainingArguments(", "manual_backward(")
    if need.loaders:
        lits += ("DataLoader(", "add_argument", "num_workers")
    if need.saves:
        lits += _SAVE_LITERALS
    if need.augment:
        lits += _AUGMENT_LITERALS
    if need.leak:
        lits += _STATS_LITERALS
        lits += _SPLIT_LITERALS
    if need.roles:
        lits += ("train", ".fit(")
    if need.paths:
        lits += _PATH_LITERALS
        lits += (":\\", ":/")
    if need.datasets:
        lits.append("__getitem__")
    offsets: list[int] = []
    for lit in lits:
        i = t.find(lit)
        while i >= 0:
            offsets.append(i)
            i = t.find(lit, i + 1)
    offsets.sort()
    lines: list[int] = []
    line, pos = 1, 0
    for off in offsets:
        line += t.count("\n", pos, off)
        pos = off
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


@dataclass(slots=True)
class _Needs:
    training: bool
    loaders: bool
    saves: bool
    augment: bool
    leak: bool
    roles: bool
    paths: bool
    datasets: bool

    def any(self) -> bool:
        return (
            self.training
            or self.loaders
            or self.saves
            or self.augment
            or self.leak
            or self.roles
            or self.paths
            or self.datasets
        )


# Context managers whose files are deleted when the block ends.
_TEMPORARY = frozenset(
    {"TemporaryDirectory", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"}
)


def _mentions_any(call: ast.Call, names: set[str]) -> bool:
    """Whether a name of ``names`` appears in the call's arguments."""
    for arg in [*call.args, *(kw.value for kw in call.keywords)]:
        for node in ast.walk(arg):
            if isinstance(node, ast.Name) and node.id in names:
                return True
    return False


def _loss_scaler_call(call: ast.Call, name: str) -> bool:
    """``loss_scaler(loss, optimizer, ...)``: a scaler object called on a loss and an optimizer."""
    if not name.lower().endswith("scaler") or len(call.args) < 2:
        return False
    return "loss" in dotted(call.args[0]).lower() and "opt" in dotted(call.args[1]).lower()


def _names_trainer(node: ast.expr) -> bool:
    """``cfg.trainer`` / ``config["trainer"]``: a config node that describes a Trainer."""
    if isinstance(node, ast.Subscript):
        return (const_str(node.slice) or "").lower() == "trainer"
    return dotted(node).rsplit(".", 1)[-1].lower() == "trainer"


class _Walker:
    """Walks one tree once, in source order, keeping a stack of the names that give context."""

    def __init__(self, f: SourceFile, facts: FileFacts, need: _Needs) -> None:
        self.f = f
        self.facts = facts
        self.need = need
        self.module = _Scope("", "")
        self.scopes: list[_Scope] = [self.module]
        self.ctx: list[str] = []
        self.assigning: list[_Assign] = []
        self.loaders: list[_Loader] = []
        self.random_names: set[tuple[int, str]] = set()  # (id of scope, name) of random pipelines
        self.random_datasets: set[tuple[int, str]] = set()
        self.int_defaults: dict[str, int] = {}
        self.classes: dict[str, int] = {}
        self.getitem_random: list[tuple[str, int]] = []
        self._hints: list[int] = []
        self.loop_depth = 0
        self.looped: set[int] = set()  # ids of the calls made inside a loop of their scope
        # names bound by ``with tempfile.TemporaryDirectory() as tmp`` and the like
        self.temp_names: set[str] = set()
        self.called_in_loop: set[str] = set()  # names of functions called inside a loop

    # --- traversal -------------------------------------------------------------------------
    def run(self) -> None:
        need = self.need
        if len(self.f.text) < _PRUNE_ABOVE:
            self._children(self.f.tree, self.module)
        else:
            # A large file (mostly library code): walk only the top-level statements and the
            # methods whose lines show a hint.
            self._hints = _hint_lines(self.f.text, need)
            self._pruned_body(self.f.tree.body, self.module)
        self._finish()

    def _pruned_body(self, body: list[ast.stmt], scope: _Scope) -> None:
        for stmt in body:
            if not self._hinted(stmt):
                continue
            if isinstance(stmt, ast.ClassDef):
                inner = _Scope(stmt.name, stmt.name)
                self.scopes.append(inner)
                self.classes[stmt.name] = stmt.lineno
                self._pruned_body(stmt.body, inner)
            else:
                self._node(stmt, scope)

    def _hinted(self, stmt: ast.stmt) -> bool:
        lo = stmt.lineno
        hi = stmt.end_lineno or lo
        i = bisect.bisect_left(self._hints, lo)
        return i < len(self._hints) and self._hints[i] <= hi

    def _children(self, node: ast.AST, scope: _Scope) -> None:
        for child in ast.iter_child_nodes(node):
            self._node(child, scope)

    def _node(self, node: ast.AST, scope: _Scope) -> None:
        t = type(node)
        if t is ast.Name:
            if self.assigning:
                self.assigning[-1].loads.add(node.id)  # type: ignore[attr-defined]
            return
        if t is ast.Constant:
            if self.need.paths and isinstance(node.value, str):  # type: ignore[attr-defined]
                self._path(node.value, node.lineno)  # type: ignore[attr-defined]
            return
        if t is ast.Call:
            assert isinstance(node, ast.Call)
            scope.calls.append(node)
            if self.loop_depth:
                self.looped.add(id(node))
                self.called_in_loop.add(last_name(node.func))
            if _REGISTERS_CALLBACK.search(last_name(node.func)):
                # set_callback('on_batch_end', fn), add_callback(fn), register_*_hook(fn): the
                # trainer calls fn while it trains, as a loop would
                for a in [*node.args, *(kw.value for kw in node.keywords)]:
                    if isinstance(a, ast.Name | ast.Attribute):
                        self.called_in_loop.add(last_name(a))
            self._call(node, scope)
            self._node(node.func, scope)
            for a in node.args:
                self._node(a, scope)
            for kw in node.keywords:
                if kw.arg == "help":
                    continue
                self.ctx.append(kw.arg or "")
                self._node(kw.value, scope)
                self.ctx.pop()
            return
        if t is ast.Assign or t is ast.AnnAssign:
            assert isinstance(node, ast.Assign | ast.AnnAssign)
            if node.value is None:
                return
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n for tg in targets for n in target_names(tg)]
            rec = _Assign(node.lineno, names, list(targets), node.value)
            scope.assigns.append(rec)
            in_class_body = bool(scope.cls) and scope.name == scope.cls
            if (isinstance(node, ast.AnnAssign) and in_class_body) or scope is self.module:
                self._int_default(names, node.value)
            for tg in targets:
                if not isinstance(tg, ast.Name):
                    self._node(tg, scope)
            self.ctx.append(names[0] if len(names) == 1 else "")
            self.assigning.append(rec)
            self._node(node.value, scope)
            self.assigning.pop()
            self.ctx.pop()
            return
        if t is ast.Dict:
            assert isinstance(node, ast.Dict)
            for k, v in zip(node.keys, node.values, strict=True):
                if k is not None:
                    self._node(k, scope)
                self.ctx.append(const_str(k) or "")
                self._node(v, scope)
                self.ctx.pop()
            return
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            inner = _Scope(node.name, scope.cls)
            self.scopes.append(inner)
            self.ctx.append(node.name)
            saved, self.assigning = self.assigning, []
            depth, self.loop_depth = self.loop_depth, 0
            self._children(node, inner)
            self.assigning = saved
            self.loop_depth = depth
            self.ctx.pop()
            if node.name == "__getitem__" and scope.cls and self.need.datasets:
                self._dataset_randomness(inner, scope.cls, node.lineno)
            return
        if t is ast.ClassDef:
            assert isinstance(node, ast.ClassDef)
            inner = _Scope(node.name, node.name)
            self.scopes.append(inner)
            self.classes[node.name] = node.lineno
            self._children(node, inner)
            return
        if t is ast.AugAssign and self.need.training:
            assert isinstance(node, ast.AugAssign)
            if isinstance(node.op, ast.Sub) and _mentions_grad(node.value):
                self.facts.has_step = self.facts.manual_update = True  # p -= lr * p.grad
        if t is ast.For or t is ast.While or t is ast.AsyncFor:
            self.loop_depth += 1
            self._children(node, scope)
            self.loop_depth -= 1
            return
        if t is ast.With or t is ast.AsyncWith:
            for item in node.items:  # type: ignore[attr-defined]
                ctx = item.context_expr
                bound = item.optional_vars
                temporary = isinstance(ctx, ast.Call) and last_name(ctx.func) in _TEMPORARY
                if bound is not None and temporary:
                    self.temp_names.update(target_names(bound))
        if t is ast.Expr:
            value = node.value  # type: ignore[attr-defined]
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return  # a docstring or bare string: documentation, not code
        self._children(node, scope)

    # --- per-node facts --------------------------------------------------------------------
    def _role(self) -> Role | None:
        for name in reversed(self.ctx):
            r = role(name)
            if r is not None:
                return r
        return None

    def _call(self, call: ast.Call, scope: _Scope) -> None:
        func = call.func
        name = last_name(func)
        facts = self.facts
        if self.need.training:
            if name in ("backward", "manual_backward") and isinstance(func, ast.Attribute):
                if facts.backward_line is None and not dotted(func.value).endswith("autograd"):
                    facts.backward_line = call.lineno
            elif name == "step" and isinstance(func, ast.Attribute):
                facts.has_step = True
            elif _loss_scaler_call(call, name):
                # timm's NativeScaler: loss_scaler(loss, optimizer, ...) backpropagates and steps
                if facts.backward_line is None:
                    facts.backward_line = call.lineno
                facts.has_step = True
            elif name in ("sub_", "add_") and _mentions_grad(call):
                # a manual update: p.sub_(lr * p.grad), p.add_(p.grad, alpha=-lr)
                facts.has_step = facts.manual_update = True
            elif name.endswith("Trainer") and name[:1].isupper():
                self._trainer(call, name)
            elif name == "instantiate" and call.args and _names_trainer(call.args[0]):
                self._trainer(call, name)  # hydra.utils.instantiate(cfg.trainer)
            elif name.endswith("TrainingArguments") or name in ("SFTConfig", "DPOConfig"):
                self._hf_args(call)
        if name == "add_argument":
            self._argparse_default(call)
        if self.need.loaders and name.endswith("DataLoader"):
            self._loader(call, scope)
        if self.need.augment:
            self._augment(call, name, scope)
        if self.need.roles:
            self._kwarg_overlap(call, name)
        if self.need.leak:
            self._stats(call, name, scope)

    def _trainer(self, call: ast.Call, name: str) -> None:
        fw: Framework | None = None
        text = self.f.text
        head = dotted(call.func).split(".")[0]
        kws = {kw.arg for kw in call.keywords}
        if head in ("pl", "L", "lightning", "pytorch_lightning") or "lightning" in text:
            fw = "lightning"
        elif (
            "transformers" in text
            or "trl" in text
            or "TrainingArguments" in text
            or kws & {"args", "train_dataset", "processing_class", "tokenizer"}
        ):
            fw = "hf"
        elif kws & {"max_epochs", "accelerator", "devices", "callbacks", "precision"}:
            fw = "lightning"
        if fw is None:
            return
        self.facts.frameworks.add(fw)
        if self.facts.trainer_line is None:
            self.facts.trainer_line = call.lineno
        if fw == "lightning":
            if is_false(kwarg(call, "enable_checkpointing")):
                self.facts.disabled.add("checkpoint")
            if is_false(kwarg(call, "logger")):
                self.facts.disabled.add("track")

    def _hf_args(self, call: ast.Call) -> None:
        save = const_str(kwarg(call, "save_strategy"))
        if save == "no":
            self.facts.disabled.add("checkpoint")
        if const_str(kwarg(call, "lr_scheduler_type")) == "constant":
            self.facts.disabled.add("schedule")
        if is_false(kwarg(call, "max_grad_norm")):
            self.facts.disabled.add("clip")

    def _int_default(self, names: list[str], value: ast.expr) -> None:
        if len(names) == 1 and isinstance(value, ast.Constant) and type(value.value) is int:
            self.int_defaults[names[0]] = value.value

    def _argparse_default(self, call: ast.Call) -> None:
        default = kwarg(call, "default")
        if not (isinstance(default, ast.Constant) and type(default.value) is int):
            return
        dest = const_str(kwarg(call, "dest"))
        if dest is None:
            longs = [s for a in call.args if (s := const_str(a)) and s.startswith("--")]
            if not longs:
                return
            dest = longs[0][2:].replace("-", "_")
        self.int_defaults[dest] = default.value

    def _workers(self, node: ast.expr | None) -> int | None:
        """The number of loader workers when it can be read statically; ``None`` if unknown."""
        if node is None:
            return 0
        if isinstance(node, ast.Constant):
            return node.value if type(node.value) is int else None
        if isinstance(node, ast.Name | ast.Attribute):
            key = node.id if isinstance(node, ast.Name) else node.attr
            return self.int_defaults.get(key)
        if isinstance(node, ast.Call) and last_name(node.func) == "cpu_count":
            return 2
        return None

    def _loader(self, call: ast.Call, scope: _Scope) -> None:
        dataset = call.args[0] if call.args else kwarg(call, "dataset")
        shuffle = call.args[2] if len(call.args) > 2 else kwarg(call, "shuffle")
        sampler = call.args[3] if len(call.args) > 3 else kwarg(call, "sampler")
        sampled = not is_false(sampler) if sampler is not None else False
        batch_sampler = kwarg(call, "batch_sampler")
        if batch_sampler is not None and not is_false(batch_sampler):
            sampled = True
        star = has_star_kwargs(call) or any(isinstance(a, ast.Starred) for a in call.args)
        r = self._role() or (_expr_role(dataset) if dataset is not None else None)
        scope_key = str(id(scope))
        if dataset is not None and base_name(dataset) == "self":
            scope_key = "class:" + scope.cls
        self.loaders.append(
            _Loader(
                call.lineno,
                r,
                dataset,
                ast.dump(dataset) if dataset is not None and not star else "",
                scope_key,
                sampled or star,
            )
        )
        if (
            r == "train"
            and not star
            and not sampled
            and (shuffle is None or is_false(shuffle))
            and _SHUFFLE_ELSEWHERE.search(self.f.text) is None
        ):
            why = "shuffle=False" if shuffle is not None else "no shuffle=True and no sampler"
            what = self._ctx_name() or (dotted(dataset) if dataset is not None else "")
            self.facts.shuffle_issues.append((call.lineno, what, why))
        workers = self._workers(call.args[5] if len(call.args) > 5 else kwarg(call, "num_workers"))
        if (
            workers
            and workers > 0
            and not star
            and kwarg(call, "worker_init_fn") is None
            and kwarg(call, "generator") is None
            and dataset is not None
        ):
            cls = self._dataset_class(dataset, scope, call.lineno, 0)
            if cls:
                self.facts.worker_loaders.append((call.lineno, cls))

    def _ctx_name(self) -> str:
        for name in reversed(self.ctx):
            if role(name) is not None:
                return name
        return ""

    def _dataset_class(self, node: ast.expr, scope: _Scope, line: int, depth: int) -> str:
        if depth > 3:
            return ""
        if isinstance(node, ast.Call):
            name = last_name(node.func)
            if name in ("random_split", "Subset", "ConcatDataset") and node.args:
                return self._dataset_class(node.args[0], scope, line, depth + 1)
            return name
        value = self._lookup(node, scope, line)
        if value is None:
            return ""
        return self._dataset_class(value, scope, line, depth + 1)

    def _lookup(self, node: ast.expr, scope: _Scope, line: int) -> ast.expr | None:
        """The value last assigned to a name (or ``self.attr``) before ``line``."""
        if isinstance(node, ast.Name):
            for sc in (scope, self.module):
                found: ast.expr | None = None
                for rec in sc.assigns:
                    if rec.line <= line and node.id in rec.names:
                        found = _element(rec, node.id)
                if found is not None:
                    return found
            return None
        if isinstance(node, ast.Attribute) and base_name(node) == "self" and scope.cls:
            for sc in self.scopes:
                if sc.cls != scope.cls:
                    continue
                for rec in sc.assigns:
                    for tg in rec.targets:
                        if isinstance(tg, ast.Attribute) and tg.attr == node.attr:
                            return rec.value
            return None
        return None

    def _dataset_randomness(self, scope: _Scope, cls: str, line: int) -> None:
        for call in scope.calls:
            func = call.func
            d = dotted(func)
            head = d.split(".")[0]
            if (
                head == "random"
                or d.startswith(("np.random.", "numpy.random."))
                or (
                    isinstance(func, ast.Attribute)
                    and "rng" in dotted(func.value).lower()
                    and func.attr in _RNG_METHODS
                )
            ):
                self.getitem_random.append((cls, line))
                return

    def _augment(self, call: ast.Call, name: str, scope: _Scope) -> None:
        if _is_random_aug(name, call):
            for rec in self.assigning[-1:]:
                for n in rec.names:
                    self.random_names.add((id(scope), n))
            if self._role() == "eval":
                where = self._ctx_name()
                self.facts.augment_issues.append(
                    (call.lineno, f"random augmentation {name} in the pipeline of {where!r}")
                )
            return
        tf = kwarg(call, "transform") or kwarg(call, "transforms")
        if tf is None and name in ("ImageFolder", "DatasetFolder") and len(call.args) > 1:
            tf = call.args[1]
        if tf is None:
            return
        tf_random = _is_random_inline(tf) or self._is_random_name(tf, scope)
        if not tf_random:
            return
        for rec in self.assigning[-1:]:
            for n in rec.names:
                self.random_datasets.add((id(scope), n))
        if self._call_is_eval(call):
            self.facts.augment_issues.append(
                (
                    call.lineno,
                    f"{name} builds held-out data with the random transform "
                    f"{dotted(tf) or 'pipeline'}",
                )
            )

    def _is_random_name(self, node: ast.expr, scope: _Scope) -> bool:
        if isinstance(node, ast.Name | ast.Attribute):
            key = node.id if isinstance(node, ast.Name) else node.attr
            if (id(scope), key) in self.random_names or (id(self.module), key) in self.random_names:
                return True
            return role(key) == "train" and any(
                w in key.lower() for w in ("transform", "tf", "aug")
            )
        return False

    def _call_is_eval(self, call: ast.Call) -> bool:
        if self._role() == "eval":
            return True
        for key in ("train", "is_train", "training", "is_training"):
            v = kwarg(call, key)
            if isinstance(v, ast.Constant) and v.value is False:
                return True
        for key in ("split", "mode", "stage", "subset", "phase"):
            if role(const_str(kwarg(call, key))) == "eval":
                return True
        if call.args:
            for sub in ast.walk(call.args[0]):
                s = const_str(sub) if isinstance(sub, ast.expr) else None
                if s is not None and role(s) == "eval":
                    return True
        return False

    def _kwarg_overlap(self, call: ast.Call, name: str) -> None:
        train: dict[str, ast.expr] = {}
        evals: list[tuple[str, ast.expr]] = []
        for kw in call.keywords:
            r = role(kw.arg)
            if r == "train":
                train[kw.arg or ""] = kw.value
            elif r == "eval" and kw.arg not in ("eval_steps", "eval_strategy"):
                evals.append((kw.arg or "", kw.value))
        for arg, value in evals:
            vname = dotted(value)
            if vname and role(vname.split(".")[-1]) == "train":
                self.facts.overlap_issues.append(
                    (call.lineno, f"{arg}={vname}: held-out data is the training data")
                )
                return
            dump = ast.dump(value)
            for targ, tvalue in train.items():
                if vname and ast.dump(tvalue) == dump:
                    self.facts.overlap_issues.append(
                        (call.lineno, f"{targ} and {arg} are the same object {vname}")
                    )
                    return
        if name == "fit" and len(call.args) >= 3:
            a, b = call.args[1], call.args[2]
            if dotted(a) and ast.dump(a) == ast.dump(b):
                self.facts.overlap_issues.append(
                    (call.lineno, f"fit() trains and validates on the same {dotted(a)}")
                )

    def _stats(self, call: ast.Call, name: str, scope: _Scope) -> None:
        if not self.assigning:
            return
        rec = self.assigning[-1]
        func = call.func
        data = ""
        if name in ("fit", "fit_transform") and call.args and isinstance(func, ast.Attribute):
            recv = func.value
            recv_name = last_name(recv)
            looked = self._lookup(recv, scope, call.lineno)
            if looked is not None:
                recv_name += " " + last_name(looked)
            if re.search(r"(?i)scaler|normali[sz]er|standardi", recv_name):
                data = base_name(call.args[0])
        elif name in ("mean", "std", "var", "nanmean", "nanstd", "std_mean"):
            names_ok = any(_STATS_TARGET.search(n) for n in rec.names) or isinstance(
                rec.value, ast.BinOp
            )
            if not names_ok or not _across_samples(call):
                return
            if isinstance(func, ast.Attribute) and dotted(func.value) in _MODULE_ALIASES:
                data = base_name(call.args[0]) if call.args else ""
            elif isinstance(func, ast.Attribute):
                data = base_name(func.value)
        if data and data != "self" and role(data) is None:
            scope.stats.append((call.lineno, data))

    def _path(self, value: str, line: int) -> None:
        m = _MACHINE_PATH.search(value)
        if m is not None:
            self.facts.path_issues.append((line, m.group(1)))

    # --- per-scope analyses after the walk -------------------------------------------------
    def _finish(self) -> None:
        facts = self.facts
        if self.need.saves:
            has_sched = _SCHEDULER_IN_FILE.search(self.f.text) is not None
            # updates by hand and no optimizer anywhere in the file: no optimizer state to save
            has_opt = not facts.manual_update or _OPTIMIZER_IN_FILE.search(self.f.text) is not None
            for sc in self.scopes:
                self._checkpoints(sc, has_sched, has_opt)
        for sc in self.scopes:
            if self.need.roles or self.need.leak:
                self._scope_splits(sc)
        if self.need.loaders:
            self._loader_overlap()
        for cls, line in self.getitem_random:
            facts.random_datasets.append((cls, line))
        facts.overlap_issues.sort()

    def _checkpoints(self, sc: _Scope, has_sched: bool, has_opt: bool) -> None:
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

    def _temp_paths(self, sc: _Scope) -> set[str]:
        """Names that hold a temporary directory or file, or a path built from one."""
        temp = set(self.temp_names)
        if temp:
            for rec in sc.assigns:
                if rec.loads & temp:
                    temp.update(rec.names)
        return temp

    def _during_training(self, sc: _Scope, saves: list[ast.Call]) -> bool:
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
                if any(_PROGRESS_WORD.search(n) for n in names):
                    return True
        return False

    def _content(self, node: ast.expr, sc: _Scope, line: int, depth: int = 0) -> set[str] | None:
        """What a saved object holds: model / optimizer / scheduler / progress; ``None`` unknown."""
        if depth > 2:
            return None
        if isinstance(node, ast.Call):
            name = last_name(node.func)
            if name == "state_dict" and isinstance(node.func, ast.Attribute):
                return {_component(last_name(node.func.value)) or "model"}
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
            return {"progress"} if any(_PROGRESS_WORD.search(n) for n in names) else set()
        if isinstance(node, ast.Name | ast.Attribute):
            value = self._lookup(node, sc, line)
            if value is not None and not isinstance(value, ast.Name | ast.Attribute):
                got = self._content(value, sc, line, depth + 1)
                if got is not None and isinstance(node, ast.Name):
                    got |= self._extra_keys(node.id, sc)
                return got
            key = node.id if isinstance(node, ast.Name) else node.attr
            comp = _component(key)
            if comp in ("model", "optimizer", "scheduler"):
                return {comp}
            if comp == "progress":
                return {"progress"}
        return None

    def _extra_keys(self, name: str, sc: _Scope) -> set[str]:
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

    def _scope_splits(self, sc: _Scope) -> None:
        slices: dict[str, list[tuple[Role, ast.Slice, int, str]]] = {}
        built: list[tuple[Role, str, int, str]] = []
        splits: list[tuple[int, set[str]]] = []
        for rec in sc.assigns:
            pairs = _pairs(rec)
            for tname, value in pairs:
                r = role(tname)
                if isinstance(value, ast.Subscript):
                    base = dotted(value.value)
                    if isinstance(value.slice, ast.Slice) and base:
                        if r is not None:
                            slices.setdefault(base, []).append((r, value.slice, rec.line, tname))
                        splits.append((rec.line, {base_name(value)}))
                    elif (
                        isinstance(value.slice, ast.Name)
                        and role(value.slice.id) is not None
                        and base
                    ):
                        splits.append((rec.line, {base_name(value)}))
                elif r == "eval" and isinstance(value, ast.Name | ast.Attribute):
                    src = dotted(value)
                    if src and role(src.split(".")[-1]) == "train":
                        self.facts.overlap_issues.append(
                            (rec.line, f"{tname} = {src}: held-out data is the training data")
                        )
                elif r is not None and isinstance(value, ast.Call):
                    key = _dataset_key(value)
                    if key:
                        built.append((r, key, rec.line, tname))
            value = rec.value
            if isinstance(value, ast.Call):
                name = last_name(value.func)
                if name in _SPLITTERS and (name != "sample" or kwarg(value, "frac") is not None):
                    bases = {base_name(a) for a in value.args} - {""}
                    func = value.func
                    if isinstance(func, ast.Attribute):
                        head = base_name(func.value)
                        if head and head not in _MODULE_ALIASES:
                            bases.add(head)
                    splits.append((rec.line, bases))
                    self._split_of_random_dataset(rec, value, sc)
        for base, items in slices.items():
            trains = [i for i in items if i[0] == "train"]
            for e in (i for i in items if i[0] == "eval"):
                for tr in trains:
                    if _slices_overlap(tr[1], e[1]):
                        self.facts.overlap_issues.append(
                            (e[2], f"{e[3]} and {tr[3]} are overlapping slices of {base}")
                        )
                        break
        for ev in (b for b in built if b[0] == "eval"):
            for same in (b for b in built if b[0] == "train" and b[1] == ev[1]):
                self.facts.overlap_issues.append(
                    (ev[2], f"{ev[3]} is built exactly like {same[3]}, so it holds the same data")
                )
                break
        if sc.stats and splits:
            self._leaks(sc, splits)

    def _split_of_random_dataset(self, rec: _Assign, value: ast.Call, sc: _Scope) -> None:
        if not value.args or not any(role(n) == "eval" for n in rec.names):
            return
        src = value.args[0]
        if not isinstance(src, ast.Name):
            return
        if (id(sc), src.id) not in self.random_datasets and (
            id(self.module),
            src.id,
        ) not in self.random_datasets:
            return
        if ".transform =" in self.f.text or ".transform=" in self.f.text:
            return
        self.facts.augment_issues.append(
            (
                rec.line,
                f"{src.id} has a random transform and is split: the held-out part keeps it",
            )
        )

    def _leaks(self, sc: _Scope, splits: list[tuple[int, set[str]]]) -> None:
        for line, data in sc.stats:
            derived = {data}
            later = sorted(
                [("a", r.line, r) for r in sc.assigns if r.line >= line], key=lambda x: x[1]
            )
            hit = 0
            for split_line, bases in sorted(splits, key=lambda s: s[0]):
                if split_line < line:
                    continue
                for _, aline, rec in later:
                    if aline < split_line and rec.loads & derived:
                        derived.update(rec.names)
                if bases & derived:
                    hit = split_line
                    break
            if hit:
                self.facts.leak_issues.append((line, data, hit))

    def _loader_overlap(self) -> None:
        by_key: dict[tuple[str, str], list[_Loader]] = {}
        for ld in self.loaders:
            if ld.dataset_key and ld.role is not None and not ld.sampled:
                by_key.setdefault((ld.scope_key, ld.dataset_key), []).append(ld)
        for group in by_key.values():
            roles = {ld.role for ld in group}
            if roles == {"train", "eval"}:
                e = next(ld for ld in group if ld.role == "eval")
                assert e.dataset is not None
                name = dotted(e.dataset) or "dataset"
                self.facts.overlap_issues.append(
                    (e.line, f"training and held-out loaders read the same {name} without a split")
                )


# --- pure helpers ---------------------------------------------------------------------------
def _element(rec: _Assign, name: str) -> ast.expr | None:
    """The part of an assignment's value bound to ``name`` (handles ``a, b = x, y``)."""
    for tname, value in _pairs(rec):
        if tname == name:
            return value
    return rec.value if name in rec.names else None


def _pairs(rec: _Assign) -> list[tuple[str, ast.expr]]:
    out: list[tuple[str, ast.expr]] = []
    for tg in rec.targets:
        if isinstance(tg, ast.Name | ast.Attribute):
            out.append((tg.id if isinstance(tg, ast.Name) else tg.attr, rec.value))
        elif (
            isinstance(tg, ast.Tuple)
            and isinstance(rec.value, ast.Tuple)
            and len(tg.elts) == len(rec.value.elts)
        ):
            for t_elt, v_elt in zip(tg.elts, rec.value.elts, strict=True):
                if isinstance(t_elt, ast.Name | ast.Attribute):
                    out.append((t_elt.id if isinstance(t_elt, ast.Name) else t_elt.attr, v_elt))
    return out


def _expr_role(node: ast.expr) -> Role | None:
    if isinstance(node, ast.Name):
        return role(node.id)
    if isinstance(node, ast.Attribute):
        return role(node.attr)
    if isinstance(node, ast.Subscript):
        return role(const_str(node.slice)) or _expr_role(node.value)
    if isinstance(node, ast.Call):
        r = role(last_name(node.func))
        if r is None:
            for a in node.args:
                if isinstance(a, ast.Name | ast.Attribute | ast.Subscript):
                    r = _expr_role(a)
                    if r is not None:
                        break
        return r
    return None


def _is_random_aug(name: str, call: ast.Call) -> bool:
    if name.startswith("Random") and name not in _RANDOM_NOT_AUG and not name.endswith("Sampler"):
        return True
    if name in _AUG_OPS:
        p = kwarg(call, "p")
        return not (isinstance(p, ast.Constant) and p.value in (0, 1, 0.0, 1.0))
    return False


def _is_random_inline(node: ast.expr) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and _is_random_aug(last_name(sub.func), sub):
            return True
    return False


def _across_samples(call: ast.Call) -> bool:
    """False for per-sample statistics (``keepdim=True``, or an axis that leaves out 0)."""
    for kw in call.keywords:
        if kw.arg in ("keepdim", "keepdims") and not is_false(kw.value):
            return False
    axis = kwarg(call, "dim") or kwarg(call, "axis")
    if axis is None and call.args and isinstance(call.func, ast.Attribute):
        if dotted(call.func.value) not in _MODULE_ALIASES:
            axis = call.args[0]
        elif len(call.args) > 1:
            axis = call.args[1]
    if axis is None:
        return True
    values: list[object] = []
    if isinstance(axis, ast.Constant):
        values = [axis.value]
    elif isinstance(axis, ast.Tuple | ast.List):
        values = [e.value for e in axis.elts if isinstance(e, ast.Constant)]
    else:
        return True
    return 0 in values


def _component(name: str) -> str | None:
    if not name:
        return None
    if _SCHED_WORD.search(name):
        return "scheduler"
    if _OPT_WORD.search(name):
        return "optimizer"
    if _PROGRESS_WORD.search(name):
        return "progress"
    if _MODEL_WORD.search(name):
        return "model"
    return None


def _key_component(key: str | None, value: ast.expr) -> set[str] | None:
    comp = _component(key or "")
    if comp is None and isinstance(value, ast.Call) and last_name(value.func) == "state_dict":
        func = value.func
        assert isinstance(func, ast.Attribute)
        comp = _component(last_name(func.value)) or "model"
    if comp is None and isinstance(value, ast.Name | ast.Attribute):
        comp = _component(value.id if isinstance(value, ast.Name) else value.attr)
    return {comp} if comp else set()


def _merge(parts: object) -> set[str] | None:
    out: set[str] = set()
    for p in parts:  # type: ignore[attr-defined]
        if p is None:
            return None  # ``**extra``: contents unknown
        out |= p
    return out


def _mentions_grad(node: ast.AST) -> bool:
    """Whether an expression reads a parameter's ``.grad``."""
    return any(isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(node))


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


def _dataset_key(call: ast.Call) -> str:
    """A key equal for two dataset constructions that read the same data; ``""`` otherwise."""
    name = last_name(call.func)
    low = name.lower()
    if not ("dataset" in low or low.endswith("folder") or name in _TORCHVISION_SETS):
        return ""
    if any(w in low for w in ("random", "synthetic", "dummy", "fake")):
        return ""
    kws = [kw for kw in call.keywords if kw.arg not in _DATASET_IGNORED_KW]
    if not call.args and not kws:
        return ""
    if has_star_kwargs(call) or any(isinstance(a, ast.Starred) for a in call.args):
        return ""
    args = call.args[:1] if name in ("ImageFolder", "DatasetFolder") else call.args
    return (
        ast.dump(call.func)
        + "|"
        + "|".join(ast.dump(a) for a in args)
        + "|"
        + "|".join(sorted(f"{kw.arg}={ast.dump(kw.value)}" for kw in kws))
    )


def _bound(node: ast.expr | None) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _slices_overlap(a: ast.Slice, b: ast.Slice) -> bool:
    if a.step is not None or b.step is not None:
        return False
    if a.lower is None and b.lower is None:
        return not (_bound(a.upper) == 0 or _bound(b.upper) == 0)
    if a.upper is None and b.upper is None:
        return True
    dumps = [ast.dump(x) if x is not None else "" for x in (a.lower, a.upper, b.lower, b.upper)]
    if dumps[0] == dumps[2] and dumps[1] == dumps[3]:
        return True
    bounds = [_bound(x) for x in (a.lower, a.upper, b.lower, b.upper)]
    nones = [x is None for x in (a.lower, a.upper, b.lower, b.upper)]
    known = [v for v, n in zip(bounds, nones, strict=True) if not n]
    if all(v is not None for v in known) and all(v is not None and v >= 0 for v in known):
        lo_a = bounds[0] or 0
        lo_b = bounds[2] or 0
        hi_a = bounds[1] if not nones[1] else None
        hi_b = bounds[3] if not nones[3] else None
        end_a = hi_a if hi_a is not None else 1 << 62
        end_b = hi_b if hi_b is not None else 1 << 62
        return max(lo_a, lo_b) < min(end_a, end_b)
    return False


__all__ = ["SIGNALS", "FileFacts", "facts_for"]

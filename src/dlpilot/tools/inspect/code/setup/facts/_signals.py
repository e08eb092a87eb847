"""Project-wide text signals and whole-file judgments read from a file's text, not its tree.

A signal ("a seed is set somewhere", "something is tracked") is looked for in every file until one
shows it, so each is a plain substring test first and a regex only on a file that holds one of
its gate literals. Lenient on purpose: a rule reports a signal's absence, and "absent everywhere"
must be sure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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
        # a held-out ``test_input`` scored under no_grad); a shared epoch function called for its
        # held-out pass (``run_epoch(dl, train=False)``), held-out data picked by key
        # (``loaders["val"]``) or named dev / holdout
        re.compile(
            r"\bdef\s+_?test(?:ing)?(?:_\w+)?\s*\((?!\s*self\s*[,)])"
            r"|\btest(?:ing)?_?(?:\w+_)?(?:loader|data|dataset|set|input|inputs|target|targets|x|y|X|Y|"
            r"batch|images|samples)\b"
            r"|[(,]\s*(?:train|training|is_train|is_training|train_mode)\s*=\s*False\b"
            r"|\[\s*['\"](?:val|valid|validation|dev|test|eval|holdout)['\"]\s*\]"
            r"|\b(?:dev|holdout|heldout)_?(?:\w+_)?(?:loader|dl|data|dataset|set)\b"
        ),
        ("test", "False", "['", '["', "dev", "holdout", "heldout"),
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


def search(name: str, text: str) -> bool:
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

_SEQ_LITERALS = ("LSTM", "GRU", "RNN", "Transformer", "MultiheadAttention", "from_pretrained")


def seq_model_line(text: str) -> int | None:
    """The first line that builds a recurrent or transformer model outside a comment."""
    if not any(lit in text for lit in _SEQ_LITERALS):
        return None
    for m in _SEQ_MODEL.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        if "#" not in text[start : m.start()]:
            return text.count("\n", 0, m.start()) + 1
    return None


def synthetic_data(text: str) -> bool:
    """Random tensors made here and no data read at all (a benchmark, a smoke test)."""
    return _RANDOM_TENSOR.search(text) is not None and not any(
        _reads_data(text, lit) for lit in _DATA_SOURCE_LITERALS
    )


def adversarial(text: str) -> bool:
    """A generator trained against a discriminator / critic (a GAN)."""
    return _DISCRIMINATOR.search(text) is not None and _GENERATOR.search(text) is not None


def reinforcement(text: str) -> bool:
    """A policy trained on an environment (RL)."""
    return _ENVIRONMENT.search(text) is not None


__all__ = [
    "SIGNALS",
    "adversarial",
    "reinforcement",
    "search",
    "seq_model_line",
    "synthetic_data",
]

"""The vocabulary of names that every static code rule reads, in one place.

Static rules cannot know types, so they judge names:

- the *role* of data a name holds (``role``): ``train_loader`` is training data, ``val_ds`` /
  ``testset`` / ``eval_dataset`` are held-out data, ``loader`` says nothing. Roles are read from
  the words of an identifier, so ``interval`` or ``value`` are not mistaken for "val";
- what an object probably is: ``optimizer.step()`` is an optimizer step, ``scheduler.step()`` is
  not (``is_optimizer_name``, ``is_scheduler_name``, ``is_model_name``, ...);
- what part of the training state a saved value holds (``state_component``).

A callable that runs a model (``is_model_name``) and a saved value that holds a model's state
(``state_component``) share one list of model words; each adds the words that only it can judge
safely (a ``state_dict`` or ``weights`` value is a model's state, but calling it runs no model).
Every guess errs towards "unknown", which rules treat as "stay silent". Small helpers that read
names off ``ast`` nodes live here too.
"""

from __future__ import annotations

import ast
import re
from typing import Literal

from dlpilot.tools.inspect._astnames import dotted
from dlpilot.tools.inspect._base import is_test_path

Role = Literal["train", "eval"]

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_EVAL_EXACT = frozenset({"dev", "devset", "eval", "val", "valid", "test", "holdout", "heldout"})
_EVAL_PREFIXES = (
    "val",
    "valid",
    "validation",
    "test",
    "eval",
    "holdout",
    "heldout",
    "devset",
    "devloader",
    "devdata",
)
_NOT_EVAL_PREFIXES = ("valu", "testimon")  # value(s), testimony; "validate" stays eval


def _eval_word(raw: str) -> bool:
    w = raw.lower()
    return w in _EVAL_EXACT or (
        w.startswith(_EVAL_PREFIXES) and not w.startswith(_NOT_EVAL_PREFIXES)
    )


def names_eval(text: str | None) -> bool:
    """Whether any word of an identifier, a string or a piece of code names held-out data
    (``val_loss``, ``"valid/acc"``, ``evaluate(model, test_loader)``), train words or not; not
    ``interval``, ``value``, ``latest`` or ``device``. :func:`role` is the stricter question."""
    return bool(text) and any(_eval_word(raw) for raw in _WORD.findall(text or ""))


def role(name: str | None) -> Role | None:
    """The data role an identifier or string names, or ``None`` when it names neither or both."""
    if not name:
        return None
    is_train = is_eval = False
    for raw in _WORD.findall(name):
        w = raw.lower()
        if w.startswith(("train", "trn")) and not w.startswith("trainer"):
            is_train = True
        elif _eval_word(w):
            is_eval = True
    if is_train == is_eval:
        return None
    return "train" if is_train else "eval"


def last_name(node: ast.expr) -> str:
    """The final name of a callee or value: ``DataLoader`` for ``torch.utils.data.DataLoader``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return last_name(node.func)
    return ""


def base_name(node: ast.expr) -> str:
    """The variable an expression starts from: ``df`` for ``df[cols].values``; ``""`` if none."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
            node = node.value
        else:
            return ""


def target_names(target: ast.expr) -> list[str]:
    """The names bound by an assignment target (``a, (b, c)`` -> ``a b c``; ``self.x`` -> ``x``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Attribute):
        return [target.attr]
    if isinstance(target, ast.Tuple | ast.List):
        out: list[str] = []
        for elt in target.elts:
            out.extend(target_names(elt))
        return out
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def const_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def has_star_kwargs(call: ast.Call) -> bool:
    return any(kw.arg is None for kw in call.keywords)


def is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, 0, None)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# Receivers of ``.step()`` that are not optimizers (learning-rate schedulers, RL environments, ...).
_NOT_OPTIMIZER = re.compile(r"sched|lr|warmup|env|swa|ema|scaler|trainer|engine|progress|bar|pbar")
_OPTIMIZER = re.compile(r"opt")
# Objects whose ``backward(loss)`` method back-propagates a loss for the user.
_BACKWARD_WRAPPER = re.compile(
    r"(?:^|_)(?:accelerat|fabric|engine|deepspeed|strategy|booster|trainer|self|manager|scaler)"
)
# Words that name a model, in a callable's name and in a saved value's name alike.
_MODEL_WORDS = (
    "model",
    "encoder",
    "decoder",
    "generator",
    "discriminator",
    "critic",
    "backbone",
    "policy",
    "unet",
)
# A callable that runs a model: the shared words, architectures' names, and "net" / "actor"
# anywhere in the name (``self.subnet(x)``, ``actor_critic(obs)``).
_MODEL_CALLABLE = re.compile(
    "|".join(
        (
            *_MODEL_WORDS,
            "net",
            "actor",
            "classifier",
            "transformer",
            "bert",
            "gpt",
            "resnet",
            "vit",
            "cnn",
            "rnn",
            "lstm",
            "gru",
            "mlp",
            "autoencoder",
            "student",
            "clf",
        )
    )
)
_NOT_MODEL_WORD = re.compile(r"loss|criterion|optim|sched|metric|loader|dataset|tokenizer")
_OPTIMIZER_CLASSES = frozenset(
    {
        "SGD",
        "Adam",
        "AdamW",
        "Adamax",
        "Adagrad",
        "Adadelta",
        "RMSprop",
        "Rprop",
        "ASGD",
        "NAdam",
        "RAdam",
        "LBFGS",
        "SparseAdam",
        "Adafactor",
        "Lion",
        "LAMB",
        "Lamb",
        "FusedAdam",
        "FusedLAMB",
        "AdamW8bit",
        "Adam8bit",
        "SophiaG",
        "Muon",
    }
)
_SCHEDULER_CALL = re.compile(r"LR$|Scheduler|schedule|Plateau|SWALR|Warmup|warmup|sched")
# Calls that receive an optimizer but never step it.
_NON_STEPPING_CALLS = frozenset(
    {"print", "len", "isinstance", "getattr", "hasattr", "type", "id", "repr", "str", "prepare"}
)


def last(name: str) -> str:
    """The last component of a dotted name: ``self.optimizer`` -> ``optimizer``."""
    return name.rsplit(".", 1)[-1]


def root(name: str) -> str:
    """The first component of a dotted name: ``self.optimizer`` -> ``self``."""
    return name.split(".", 1)[0]


def call_attr(call: ast.Call) -> str:
    """The called name's last component: ``torch.nn.functional.softmax(x)`` -> ``softmax``."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def is_optimizer_name(name: str, known: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether a ``.step()`` receiver is probably an optimizer."""
    if not name:
        return False
    if name in known or last(name) in known:
        return True
    low = last(name).lower()
    return bool(_OPTIMIZER.search(low)) and not _NOT_OPTIMIZER.search(low)


def is_scheduler_name(name: str) -> bool:
    low = last(name).lower()
    return bool(re.search(r"sched|lr|warmup|swa", low))


def is_backward_wrapper(name: str) -> bool:
    """Whether ``name.backward(loss)`` is a framework back-propagating ``loss`` (accelerate)."""
    return bool(name) and bool(_BACKWARD_WRAPPER.search(last(name).lower()))


def is_model_name(name: str) -> bool:
    """Whether a callable's name reads like a model (``model``, ``self.net``, ``encoder``)."""
    low = last(name).lower()
    if not low or _NOT_MODEL_WORD.search(low):
        return False
    return bool(_MODEL_CALLABLE.search(low))


def is_optimizer_class(call: ast.Call) -> bool:
    attr = call_attr(call)
    if attr in _OPTIMIZER_CLASSES:
        return True
    func = dotted(call.func)
    return ".optim." in f".{func}" and attr[:1].isupper() and not _SCHEDULER_CALL.search(attr)


def is_scheduler_call(call: ast.Call) -> bool:
    return bool(_SCHEDULER_CALL.search(call_attr(call)))


def is_non_stepping_call(call: ast.Call) -> bool:
    return call_attr(call) in _NON_STEPPING_CALLS or is_scheduler_call(call)


def unwrap_device(node: ast.expr) -> ast.expr:
    """``Net().to(device).cuda()`` -> ``Net()``: moving a module keeps what it is."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr
        in {"to", "cuda", "cpu", "float", "half", "double", "bfloat16", "train", "eval"}
    ):
        node = node.func.value
    return node


def const_bool(node: ast.expr | None) -> bool | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


# What a saved value holds, read from its name (``torch.save({"model": ..., "optim": ...})``).
# A model's state by any of its names (weights, params, an EMA copy, a wrapped module), but "net"
# and "actor" only at a word's edge (not "subnet_mask", "factor"): a saved name is judged more
# widely than a callable, which must actually run a model.
_STATE_MODEL = re.compile(
    "(?i)"
    + "|".join(
        (
            *_MODEL_WORDS,
            "state_dict",
            r"\bnet",
            r"net\b",
            "weights",
            "params",
            "ema",
            "module",
            r"\bactor",
            "vae",
        )
    )
)
# optimizer, optim_g, opt, opt_d, d_opt, and a GAN's optG / optD / opt1 (capital or digit suffix)
_STATE_OPTIMIZER = re.compile(r"(?i:optim|^opt$|^opt_|_opt$|_opt_)|^opt(?:[A-Z]|\d)")
_STATE_SCHEDULER = re.compile(r"(?i)sched")
_PROGRESS_WORD = re.compile(r"(?i)epoch|step|iter|\bit\b|batch_idx|n_iter|update|global")

StateComponent = Literal["model", "optimizer", "scheduler", "progress"]


def names_progress(name: str) -> bool:
    """Whether a name counts training progress (``epoch``, ``global_step``, ``n_iter``)."""
    return _PROGRESS_WORD.search(name) is not None


def state_component(name: str) -> StateComponent | None:
    """What part of the training state a saved value holds, by its name; ``None`` if unknown."""
    if not name:
        return None
    if _STATE_SCHEDULER.search(name):
        return "scheduler"
    if _STATE_OPTIMIZER.search(name):
        return "optimizer"
    if _PROGRESS_WORD.search(name):
        return "progress"
    if _STATE_MODEL.search(name):
        return "model"
    return None


__all__ = [
    "Role",
    "StateComponent",
    "base_name",
    "call_attr",
    "const_bool",
    "const_str",
    "dotted",
    "has_star_kwargs",
    "is_backward_wrapper",
    "is_false",
    "is_model_name",
    "is_non_stepping_call",
    "is_optimizer_class",
    "is_optimizer_name",
    "is_scheduler_call",
    "is_scheduler_name",
    "is_test_path",
    "kwarg",
    "last",
    "last_name",
    "line_of",
    "names_eval",
    "names_progress",
    "role",
    "root",
    "state_component",
    "target_names",
    "unwrap_device",
]

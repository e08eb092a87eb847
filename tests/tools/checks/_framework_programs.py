"""Framework-style programs (Lightning, HF-style ``model(**batch)``, accelerate-style, a trainer
class with EMA and a teacher) and the buggy twins derived from the Lightning classifier by one
replaced line each."""

from __future__ import annotations

from pathlib import Path

FRAMEWORKS = Path(__file__).parent / "programs" / "frameworks"

CORRECT = (
    "lit_classifier.py",
    "lit_manual.py",
    "lit_onecycle_logger.py",
    "hf_style.py",
    "accelerate_style.py",
    "ema_teacher_trainer.py",
)

# name -> ((old, new) replacements in lit_classifier.py, the ids the static pass must report)
BUGGY_LIGHTNING: dict[str, tuple[tuple[tuple[str, str], ...], set[str]]] = {
    "functional_dropout_in_eval": (
        (("p=0.2, training=self.training)", "p=0.2)"),),
        {"mode.dropout-always-on"},
    ),
    "softmax_before_cross_entropy": (
        (
            (
                "loss = F.cross_entropy(self(x), t)",
                "loss = F.cross_entropy(F.softmax(self(x), 1), t)",
            ),
        ),
        {"loss.softmax-before-ce"},
    ),
    "log_softmax_over_the_batch": (
        (
            (
                "loss = F.cross_entropy(self(x), t)",
                "loss = F.nll_loss(F.log_softmax(self(x), 0), t)",
            ),
        ),
        {"loss.softmax-wrong-dim"},
    ),
    "epoch_scheduler_stepped_per_batch": (
        (
            ("StepLR(opt, step_size=1, gamma=0.9)", "StepLR(opt, step_size=4, gamma=0.5)"),
            ('"interval": "epoch"', '"interval": "step"'),
        ),
        {"lr.schedule-mismatch"},
    ),
    "epoch_scheduler_stepped_per_batch_through_a_constant": (
        (
            ("torch.manual_seed(0)\n", 'SCHEDULER_INTERVAL = "step"\ntorch.manual_seed(0)\n'),
            ("StepLR(opt, step_size=1, gamma=0.9)", "StepLR(opt, step_size=4, gamma=0.5)"),
            ('"interval": "epoch"', '"interval": SCHEDULER_INTERVAL'),
        ),
        {"lr.schedule-mismatch"},
    ),
}


def lightning_twin(name: str) -> str:
    """The Lightning classifier with the bug ``name`` planted."""
    source = (FRAMEWORKS / "lit_classifier.py").read_text()
    for old, new in BUGGY_LIGHTNING[name][0]:
        assert old in source, (name, old)
        source = source.replace(old, new)
    return source

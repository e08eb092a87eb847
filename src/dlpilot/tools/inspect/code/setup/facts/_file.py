"""What one file tells the setup rules: :class:`FileFacts`, small enough to keep between files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dlpilot.tools.inspect.code.setup.facts import _signals as texts

Framework = Literal["hf", "lightning"]


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
            hit = texts.search(name, self.text)
            self._signals[name] = hit
        return hit

    def synthetic_data(self) -> bool:
        """Whether this file trains on random tensors it makes itself and reads no data at all
        (a throughput benchmark, a smoke test): held-out data would be more of the same noise."""
        if self.is_test:
            return False
        hit = self._signals.get("synthetic_data")
        if hit is None:
            hit = texts.synthetic_data(self.text)
            self._signals["synthetic_data"] = hit
        return hit

    def holdout_moot(self) -> bool:
        """Whether this file trains a kind of model that has no held-out data by nature:
        adversarial (a generator and a discriminator) or reinforcement learning."""
        if self.is_test:
            return False
        hit = self._signals.get("holdout_moot")
        if hit is None:
            hit = texts.reinforcement(self.text) or self.adversarial()
            self._signals["holdout_moot"] = hit
        return hit

    def adversarial(self) -> bool:
        """Whether this file trains a generator against a discriminator / critic (a GAN)."""
        if self.is_test:
            return False
        hit = self._signals.get("adversarial")
        if hit is None:
            hit = texts.adversarial(self.text)
            self._signals["adversarial"] = hit
        return hit

    def seq_model_line(self) -> int | None:
        if self.is_test:
            return None
        return texts.seq_model_line(self.text)

    def release_text(self) -> None:
        """Drop the file text once no rule needs more signals from it."""
        self.text = ""


__all__ = ["FileFacts", "Framework"]

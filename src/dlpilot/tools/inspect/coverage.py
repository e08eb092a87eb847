"""Which checks cover each item of the seed checklists (``shared/seeds``), or why none can.

Each item maps to finding ids from the catalogue, or to "human judgment" with a reason. Items take
their section's entry (``SECTIONS``, keyed by heading text) unless ``ITEMS`` names them itself;
``docs/checklist-coverage.md`` is generated from this module by
``scripts/gen_checklist_coverage.py`` and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlpilot.tools.inspect._seeds import SeedItem


@dataclass(frozen=True)
class Coverage:
    ids: tuple[str, ...] = ()
    human: str = ""  # why no check decides it

    def render(self) -> str:
        if self.ids:
            return ", ".join(f"`{i}`" for i in self.ids)
        return f"human judgment: {self.human}"


def C(*ids: str) -> Coverage:
    return Coverage(ids=ids)


def H(reason: str) -> Coverage:
    return Coverage(human=reason)


PLAN = H("a goal, scope or planning decision made by people")
RESEARCH = H("a modelling or research decision; no code pattern decides it")
STUDY = H("study design and result analysis; the runbook guides it, no check decides it")
PUB = H("publication writing and presentation")
DEPLOY = H("deployment, serving and production monitoring are outside training checks")
PERF = H("throughput and hardware sizing are measured, not checked for correctness")
DOC = H("documentation quality is read by people")
DATAQ = H("data content quality (labels, duplicates, representativeness) needs a person")
HEADING = H("a section title; its items are mapped below")
RECIPE = H("a recipe setting of a reference configuration, not a check")

SECTIONS: dict[str, dict[str, Coverage]] = {
    "000": {
        "ML Research Checklists": HEADING,
        "New Project Checklist": HEADING,
        "Environment Setup": H(
            "the environment is set up by people; `dlpilot check` reports "
            "the GPU and packages it runs with"
        ),
        "Project Structure": C("repo.no-tests", "repo.gitignore-artifacts"),
        "Documentation": C("repo.no-readme"),
        "Version Control": C("repo.gitignore-artifacts", "repo.secrets", "repo.dirty"),
        "Experiment Tracking": C("track.none"),
        "Pre-Training Checklist": HEADING,
        "Data": C("data.no-split", "data.split-overlap", "data.norm-stats-leak"),
        "Model": RESEARCH,
        "Training Setup": C("train.no-lr-schedule", "train.no-grad-clip"),
        "Reproducibility": C("repro.no-seed", "data.worker-seed", "repro.no-determinism"),
        "Logging & Checkpointing": C("track.none", "ckpt.none"),
        "Memory & Performance": PERF,
        "Validation": C(
            "train.no-validation",
            "mode.train-during-eval",
            "mode.eval-grad-enabled",
            "mode.step-during-eval",
        ),
        "Pre-Finetuning Checklist": HEADING,
        "Base Model": RESEARCH,
        "Finetuning Strategy": RESEARCH,
        "Memory Optimization (for LLMs)": PERF,
        "Monitoring": STUDY,
        "Pre-Publication Checklist": HEADING,
        "Results": PUB,
        "Code": DOC,
        "Figures": PUB,
        "Paper": PUB,
        "Debugging Checklist": HEADING,
        "Model Not Learning": C("overfit.single-batch-failed"),
        "Loss Exploding": C("curve.diverged", "lr.too-high"),
        "Loss NaN": C("loss.nonfinite", "grad.nonfinite"),
        "GPU Out of Memory": PERF,
        "Training Too Slow": PERF,
        "Overfitting": C("curve.overfitting", "curve.high-variance"),
        "Results Not Reproducible": C("repro.no-seed", "repro.no-determinism"),
        "Gap Analysis Template": H("a report format; dlpilot fills it (gap_report_markdown)"),
        "Quick Reference Card": HEADING,
        "Essential Seeds": C("repro.no-seed"),
        "Essential Logging": C("track.none"),
        "Essential Checkpointing": C("ckpt.incomplete"),
        "Essential Validation Loop": C("mode.eval-during-training", "mode.eval-grad-enabled"),
    },
    "001": {
        "DL Project Checklist": HEADING,
        "0. Project Prerequisites": PLAN,
        "1. Metrics & Data Splits": PLAN,
        "1.2 Data Splits": C("data.no-split", "curve.data-mismatch"),
        "2. Baseline Model & Training Config": RESEARCH,
        "2.3 Batch Size": PERF,
        "2.4 Baseline Training Run": C("curve.diverged", "loss.nonfinite"),
        "3. Tuning Loop (Per Round)": STUDY,
        "4. Diagnosis & Improvement Decisions": STUDY,
        "4.1 Bias / Variance / Mismatch": C(
            "curve.high-bias", "curve.high-variance", "curve.data-mismatch"
        ),
        "4.2 Label Quality": DATAQ,
        "5. Training Length & Stability": STUDY,
        "5.2 Stability (Gate Before Massive Tuning)": C(
            "curve.unstable", "grad.exploding", "lr.too-high"
        ),
        "6. Engineering & Reproducibility": HEADING,
        "6.1 Input Pipeline & Performance": PERF,
        "6.2 Evaluation & Checkpoints": C("ckpt.none", "train.no-early-stopping"),
        "6.3 Experiment Tracking": STUDY,
        "6.4 Multi-Host / Multi-Device": H("multi-host setups are not checked statically yet"),
        "7. Quick Runbook for LLM / Agent": H(
            "the runbook dlpilot walks; each step is a tool, not a check"
        ),
    },
    "002": {
        "Comprehensive Deep Learning Training Checklist & Templates": HEADING,
        "1. Training Loop Template & Checklist": HEADING,
        "Pre-Training Setup Checklist": HEADING,
        "Optimizer Configuration Checklist": RESEARCH,
        "Core Optimizer Options": RESEARCH,
        "Learning Rate Scheduling Options": C("train.no-lr-schedule"),
        "Gradient Management Options": C("train.no-grad-clip"),
        "Complete Training Loop Template": H(
            "a code template; its steps are checked item by item in the mental checklist"
        ),
        "Training Loop Mental Checklist (Every Epoch)": HEADING,
        "2. Checkpointing & State Management": C("ckpt.none", "ckpt.incomplete", "ckpt.no-resume"),
        "What to Save in Checkpoints": C("ckpt.incomplete"),
        "Loading and Resuming Training": C("ckpt.no-resume"),
        "Checkpoint Management Best Practices": HEADING,
        "Checkpoint Strategy Checklist": C("ckpt.none"),
        "File Organization": H("a directory layout convention"),
        "Checkpoint Validation": C("ckpt.incomplete"),
        "Memory-Efficient Checkpointing": PERF,
        "Final Pre-Training Checklist": HEADING,
        "Before Starting Training": HEADING,
        "During Training Monitor": C("curve.unstable", "grad.exploding"),
        "Post-Training Validation": STUDY,
    },
    "003": {
        "Phase 1: Problem Definition (Items 1--5)": PLAN,
        "Phase 2: Data (Items 6--14)": DATAQ,
        "9. Data Splitting": C("data.no-split", "data.split-overlap"),
        "10. Data Preprocessing": C(
            "data.unnormalized", "data.norm-stats-leak", "data.eval-preprocess-mismatch"
        ),
        "11. Data Augmentation": C("data.augment-on-eval"),
        "12. DataLoader Configuration": C("data.train-not-shuffled"),
        "13. Handle Class Imbalance": C("data.class-imbalance"),
        "14. Data Version Control": DOC,
        "Phase 3: Architecture (Items 15--19)": RESEARCH,
        "19. Verify Architecture": C("overfit.single-batch-failed"),
        "Phase 4: Training (Items 20--28)": HEADING,
        "20. Optimizer Selection": RESEARCH,
        "21. Learning Rate": C("train.no-lr-schedule", "lr.too-high", "lr.too-low"),
        "22. Weight Initialization": RESEARCH,
        "23. Sanity Checks Before Full Training": C("overfit.single-batch-failed"),
        "24. Training Monitoring": C("track.none", "grad.exploding", "grad.vanishing"),
        "25. Mixed Precision Training": C("amp.no-grad-scaler"),
        "26. Gradient Clipping": C("train.no-grad-clip"),
        "27. Early Stopping": C("train.no-early-stopping", "train.select-on-train-metric"),
        "28. Checkpointing": C("ckpt.incomplete", "ckpt.none", "ckpt.no-resume"),
        "Phase 5: Evaluation (Items 29--33)": STUDY,
        "Phase 6: Deployment (Items 34--37)": DEPLOY,
        "37. Documentation": DOC,
        "Phase 7: Monitoring (Items 38--40)": DEPLOY,
    },
    "004": {
        "Deep Learning Training Debug Checklist": HEADING,
        "1. Single-Batch Overfit Test (NON-NEGOTIABLE)": C("overfit.single-batch-failed"),
        "2. Data & Labels": C(
            "loss.label-dtype",
            "loss.label-out-of-range",
            "data.nonfinite",
            "data.labels-misaligned",
        ),
        "3. Model ↔ Loss Compatibility": C(
            "loss.softmax-before-ce",
            "loss.sigmoid-before-bce-logits",
            "loss.shape-broadcast",
            "loss.softmax-wrong-dim",
        ),
        "4. Training / Evaluation Mode": C(
            "mode.eval-during-training",
            "mode.train-during-eval",
            "mode.dropout-always-on",
            "mode.step-during-eval",
        ),
        "5. Training Loop Correctness": C(
            "loop.zero-grad-missing", "loop.backward-twice", "loop.step-missing", "param.unchanged"
        ),
        "6. Optimization Sanity Defaults": RESEARCH,
        "7. Validation & Metrics": C("mode.eval-grad-enabled"),
        "8. Numerical Stability": C("loss.nonfinite", "grad.nonfinite", "grad.exploding"),
        "9. Scaling Up Safely": RESEARCH,
        "Final Rule": C("overfit.single-batch-failed"),
    },
}

ITEMS: dict[str, dict[str, Coverage]] = {
    "000": {
        "Required packages installed with pinned versions": C("repro.unpinned-deps"),
        "`requirements.txt` or `pyproject.toml` created": C("repro.unpinned-deps"),
        "Source code in `src/` with proper modules": H("a layout convention"),
        "Configuration files in `configs/`": H("a layout convention"),
        "Training scripts in `scripts/`": H("a layout convention"),
        "Tests in `tests/`": C("repo.no-tests"),
        "Data directory (gitignored)": C("repo.gitignore-artifacts"),
        "Outputs directory (gitignored)": C("repo.gitignore-artifacts"),
        "`CLAUDE.md` with project context": DOC,
        "`.env.example` with required environment variables": DOC,
        "Docstrings for main functions/classes": DOC,
        "Git repository initialized": C("repo.dirty"),
        "`.gitignore` excludes data, checkpoints, logs, secrets": C(
            "repo.gitignore-artifacts", "repo.secrets"
        ),
        "Initial commit with project structure": C("repo.dirty"),
        "Project/experiment name defined": H("a naming choice"),
        "Data loaded and inspected": DATAQ,
        "Data statistics computed (mean, std for normalization)": C(
            "data.unnormalized", "data.norm-stats-leak"
        ),
        "Data loaders created and tested": C("data.train-not-shuffled", "data.worker-seed"),
        "Batch shapes verified": C("loss.shape-broadcast"),
        "Model can forward pass without error": C("overfit.single-batch-failed"),
        "Output shapes match expected": C("loss.shape-broadcast"),
        "Weights initialized properly": C(
            "loss.initial-mismatch", "act.dead-relu", "act.saturated"
        ),
        "Loss function appropriate for task": C(
            "loss.softmax-before-ce", "loss.sigmoid-before-bce-logits", "loss.label-dtype"
        ),
        "Optimizer selected (AdamW usually good default)": RESEARCH,
        "Learning rate set (start conservative: 1e-4)": C("lr.too-high", "lr.too-low"),
        "Learning rate scheduler configured": C("train.no-lr-schedule"),
        "Gradient clipping enabled if needed": C("train.no-grad-clip"),
        "Random seeds set (random, numpy, torch)": C("repro.no-seed"),
        "Data loader workers have seed": C("data.worker-seed"),
        "Deterministic mode enabled if needed": C("repro.no-determinism"),
        "Config/hyperparameters logged": C("track.none"),
        "Metrics logged to experiment tracker": C("track.none"),
        "Training loss logged per step/epoch": C("track.none"),
        "Validation metrics logged": C("track.none", "train.no-validation"),
        "Checkpoints saved periodically": C("ckpt.none"),
        "Best model checkpoint saved": C("train.no-early-stopping", "train.select-on-train-metric"),
        "Early stopping configured (optional)": C(
            "train.no-early-stopping", "train.select-on-train-metric"
        ),
        "Mixed precision enabled if beneficial": C("amp.no-grad-scaler"),
        "Validation runs after each epoch": C("train.no-validation"),
        "Validation metrics match task objective": STUDY,
        "Model in eval mode during validation": C("mode.train-during-eval"),
        "No gradients computed during validation": C("mode.eval-grad-enabled"),
        "Pretrained weights verified (not random)": C("loss.initial-mismatch"),
        "Warmup steps configured": C("train.no-lr-schedule", "lr.schedule-mismatch"),
        "Learning rate schedule appropriate for few epochs": C("train.no-lr-schedule"),
        "All random seeds documented": C("repro.no-seed"),
        "Full environment exported (`pip freeze`, conda env)": C("repro.unpinned-deps"),
        "Training command/script documented": C("repo.no-readme"),
        "Hardcoded paths removed": C("repo.hardcoded-paths"),
        "Secrets/credentials removed": C("repo.secrets"),
        "README with usage instructions": C("repo.no-readme"),
        "Learning rate appropriate (try 10x smaller/larger)": C("lr.too-high", "lr.too-low"),
        "Loss function correct for task": C(
            "loss.softmax-before-ce", "loss.sigmoid-before-bce-logits"
        ),
        "Labels encoded correctly": C("loss.label-dtype", "loss.label-out-of-range"),
        "No NaN/Inf in gradients": C("grad.nonfinite"),
        "Gradients flowing to all layers": C("grad.no-flow", "grad.not-in-optimizer"),
        "Data not all zeros/constant": C("data.constant"),
        "Model in train mode": C("mode.eval-during-training"),
        "Optimizer.step() being called": C("loop.step-missing"),
        "Gradients not cleared before step": C("loop.zero-grad-misplaced"),
        "Learning rate too high → reduce": C("lr.too-high"),
        "No gradient clipping → add clipping": C("train.no-grad-clip", "grad.exploding"),
        "Data has outliers → normalize/clip": C("data.unnormalized"),
        "Numerical instability → use mixed precision carefully": C("amp.no-grad-scaler"),
        "Corrupted data": C("data.nonfinite"),
        "Learning rate too high": C("lr.too-high"),
        "Check for memory leaks (detach tensors)": C("loop.loss-graph-retained"),
        "Add early stopping": C("train.no-early-stopping"),
        "Deterministic mode enabled": C("repro.no-determinism"),
        "Same library versions": C("repro.unpinned-deps"),
        "Data loader shuffle seeded": C("data.worker-seed"),
        "All seeds set (random, numpy, torch, cuda)": C("repro.no-seed"),
        "Same hardware/drivers": PERF,
    },
    "001": {
        "A reusable **train + eval** pipeline exists (single command / script).": C(
            "train.no-validation"
        ),
        "Dev (Validation) – for model / hyperparameter selection.": C("data.no-split"),
        "Log all optimizer hyperparameters (lr, β1, β2, ε, weight decay, etc.).": C("track.none"),
        "Choose a simple lr schedule:": C("train.no-lr-schedule"),
        "Training is stable (no frequent NaNs / divergence).": C(
            "curve.diverged", "loss.nonfinite"
        ),
        "Dev metric is clearly better than random.": C("curve.high-bias"),
        "Training & Dev curves (metric vs steps).": C("track.none"),
        "Overfitting? (Dev metric rises after some point.)": C("curve.overfitting"),
        "Early saturation? (no improvement long before `max_train_steps`).": C("curve.saturated"),
        "Instabilities or large spikes?": C("curve.unstable"),
        "High Train error vs human/chart → **high bias**.": C("curve.high-bias"),
        "Low Train, high Dev → **high variance**.": C("curve.high-variance"),
        "Good Train-Dev, bad Dev/Test → **data mismatch**.": C("curve.data-mismatch"),
        "**LR warmup**:": C("train.no-lr-schedule"),
        "**Gradient clipping**:": C("train.no-grad-clip"),
        "Save model state regularly.": C("ckpt.none"),
        "Support **retrospective selection** of best Dev checkpoint at end.": C(
            "train.no-early-stopping"
        ),
        "Training curves (metrics vs steps).": C("track.none"),
        "Initialization seed is controlled; shuffle seeds are separate but tracked.": C(
            "repro.no-seed", "data.worker-seed"
        ),
    },
    "002": {
        "**Data Pipeline**": C("data.train-not-shuffled"),
        "DataLoader with proper `batch_size`, `shuffle=True` for training": C(
            "data.train-not-shuffled"
        ),
        "`num_workers` set appropriately (typically 4-8)": PERF,
        "`pin_memory=True` if using GPU": PERF,
        "Validation DataLoader with `shuffle=False`": H("shuffled validation changes no metric"),
        "Data augmentation applied only to training set": C("data.augment-on-eval"),
        "**Model Initialization**": RESEARCH,
        "Model moved to correct device (`model.to(device)`)": H(
            "a device mismatch fails loudly on its own"
        ),
        "Proper weight initialization if needed": C("loss.initial-mismatch"),
        "Model summary/parameter count logged": DOC,
        "**Loss Function Selection**": C("loss.softmax-before-ce"),
        "Appropriate criterion for task (CrossEntropyLoss, MSELoss, etc.)": C(
            "loss.softmax-before-ce", "loss.sigmoid-before-bce-logits", "loss.label-dtype"
        ),
        "Label smoothing considered if needed": RESEARCH,
        "Class weights for imbalanced datasets": C("data.class-imbalance"),
        "`model.train()` - Set training mode": C(
            "mode.eval-during-training", "loop.mode-call-missing-parens"
        ),
        "`optimizer.zero_grad()` - Clear gradients (before accumulation loop)": C(
            "loop.zero-grad-missing"
        ),
        "Forward pass: `outputs = model(data)`": C("loop.forward-called-directly"),
        "Compute loss: `loss = criterion(outputs, targets)`": C("loss.shape-broadcast"),
        "Scale loss if using gradient accumulation": H("accumulation scaling is a design choice"),
        "Backward pass: `loss.backward()`": C("loop.backward-twice", "grad.no-flow"),
        "Gradient clipping (if enabled)": C("train.no-grad-clip", "loop.clip-before-backward"),
        "`optimizer.step()` - Update parameters": C("loop.step-missing", "param.unchanged"),
        "`optimizer.zero_grad()` - Clear for next iteration": C(
            "loop.zero-grad-missing", "loop.zero-grad-misplaced"
        ),
        "`model.eval()` - Set evaluation mode for validation": C("mode.train-during-eval"),
        "`torch.no_grad()` context for validation": C("mode.eval-grad-enabled"),
        "`scheduler.step()` - Update learning rate": C(
            "train.no-lr-schedule", "lr.schedule-mismatch"
        ),
        "Log metrics and save checkpoints": C("track.none", "ckpt.none"),
        "Save when validation loss improves": C("train.no-early-stopping"),
        "Save when validation accuracy improves": C("train.no-early-stopping"),
        "Separate files for different metrics": H("a file-naming choice"),
        "Keep last K checkpoints to save disk space": PERF,
        "**Emergency Checkpoints**": H("interrupt handling is a design choice"),
        "Save before system shutdown": H("interrupt handling is a design choice"),
        "Save on training interruption": H("interrupt handling is a design choice"),
        "Auto-save on CUDA out-of-memory errors": H("interrupt handling is a design choice"),
        "Data pipeline tested and validated": C("data.nonfinite", "data.constant"),
        "Model architecture verified": C("overfit.single-batch-failed"),
        "Loss function appropriate for task": C(
            "loss.softmax-before-ce", "loss.sigmoid-before-bce-logits"
        ),
        "Optimizer and scheduler configured": C("train.no-lr-schedule"),
        "Gradient clipping parameters set": C("train.no-grad-clip"),
        "Checkpoint directory created": C("ckpt.none"),
        "GPU memory usage estimated": PERF,
        "Baseline metrics established": STUDY,
        "Logging and monitoring setup": C("track.none"),
        "Early stopping criteria defined": C(
            "train.no-early-stopping", "train.select-on-train-metric"
        ),
        "Training and validation loss trends": C(
            "curve.overfitting", "curve.train-loss-increasing"
        ),
        "Learning rate schedule": C("train.no-lr-schedule"),
        "Gradient norms": C("grad.exploding", "grad.vanishing"),
        "GPU memory usage": PERF,
        "Training speed (samples/sec)": PERF,
        "Checkpoint file sizes": C("repo.large-files"),
        "Model convergence indicators": C("curve.saturated", "curve.still-improving"),
        "Best checkpoint identified": C("train.no-early-stopping"),
        "Training curves analyzed": C("curve.overfitting", "curve.unstable"),
    },
    "003": {
        "No data leakage between splits": C("data.split-overlap"),
        "Shuffle training data (not validation/test)": C("data.train-not-shuffled"),
        "Compute normalization statistics on training set only": C("data.norm-stats-leak"),
        "Augment only training data, never validation/test": C("data.augment-on-eval"),
        "Normalize inputs (zero mean, unit variance or [0, 1])": C("data.unnormalized"),
        "Track dataset version (hash, timestamp, or DVC)": DOC,
        "Class distribution --- is it balanced?": C("data.class-imbalance"),
        "Data quality --- missing values, corrupted files, duplicates?": C(
            "data.nonfinite", "data.split-overlap"
        ),
        "Feature distributions --- outliers, scale differences?": C("data.unnormalized"),
        "Model can overfit a small batch (sanity check)": C("overfit.single-batch-failed"),
        "Can the model overfit a single batch? (loss should go to ~0)": C(
            "overfit.single-batch-failed"
        ),
        "Are all parameters being updated? (check gradient norms)": C(
            "grad.no-flow", "param.unchanged"
        ),
        "Is the loss in the expected range for random initialization?": C("loss.initial-mismatch"),
        "Does loss decrease on first epoch?": C("curve.train-loss-increasing"),
        "Use model.eval() and torch.no_grad()": C(
            "mode.train-during-eval", "mode.eval-grad-enabled"
        ),
        "Test that you can resume training from a checkpoint": C("ckpt.no-resume"),
        "Verify no NaN issues": C("loss.nonfinite", "grad.nonfinite"),
        "Run LR finder to identify good range": H(
            "an LR range test is a tool (entry-point mode), not a pass/fail check"
        ),
    },
    "004": {
        "Training loss → **~0**": C("overfit.single-batch-failed"),
        "Input tensor shape is correct and consistent": C("loss.shape-broadcast"),
        "Inputs normalized / scaled appropriately": C("data.unnormalized"),
        "Labels have correct dtype (e.g., integer indices vs floats)": C("loss.label-dtype"),
        "Label shape matches loss expectations": C("loss.shape-broadcast"),
        "Label values are valid (no out-of-range classes)": C("loss.label-out-of-range"),
        "No NaNs / Infs in inputs or labels": C("data.nonfinite"),
        "Final layer outputs **raw logits** when required": C(
            "loss.softmax-before-ce", "loss.sigmoid-before-bce-logits"
        ),
        "No extra activation before the loss (unless explicitly needed)": C(
            "loss.softmax-before-ce", "loss.sigmoid-before-bce-logits"
        ),
        "Gradients cleared before backward pass": C(
            "loop.zero-grad-missing", "loop.zero-grad-misplaced"
        ),
        "`backward()` called exactly once per step": C("loop.backward-twice"),
        "Optimizer `step()` called every iteration": C("loop.step-missing"),
        "Loss decreases within first few iterations": C("curve.train-loss-increasing"),
        "Model parameters actually change": C("param.unchanged"),
        "Learning rate in sane range (e.g., `1e-4`–`1e-3`)": C("lr.too-high", "lr.too-low"),
        "Batch size reasonable for hardware": PERF,
        "Validation uses `no_grad()` / inference mode": C("mode.eval-grad-enabled"),
        "Metrics computed on correct dimensions": C("loss.shape-broadcast"),
        "Padding / masked tokens excluded if applicable": C("loss.padding-not-ignored"),
        "Validation performance < training performance (expected early)": C(
            "curve.val-better-than-train"
        ),
        "Loss is finite every step": C("loss.nonfinite"),
        "Gradients are finite": C("grad.nonfinite"),
        "Gradient norms not exploding": C("grad.exploding"),
        "Add gradient clipping if unstable": C("train.no-grad-clip"),
        "Overfit tiny dataset (≤1k samples)": C("overfit.single-batch-failed"),
    },
}


def coverage_of(item: SeedItem) -> Coverage | None:
    """The item's own entry, else its section's (a heading's own section entry first)."""
    own = ITEMS.get(item.seed, {}).get(item.text)
    if own is not None:
        return own
    sections = SECTIONS.get(item.seed, {})
    chain = (item.text, *reversed(item.parents)) if item.kind == "heading" else item.parents[::-1]
    for heading in chain:
        if heading in sections:
            return sections[heading]
    return None


__all__ = ["ITEMS", "SECTIONS", "Coverage", "coverage_of"]

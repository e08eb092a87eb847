"""Train the glyph classifier: seeded, validated every epoch, checkpointed, logged as JSON lines.

    python train.py                         # the baseline of configs/default.toml
    python train.py --lr 1e-3 --epochs 4    # override any key of the config
    python train.py --resume runs/baseline/checkpoints/last.pt

Metrics go to ``<out>/metrics.jsonl`` (one object a line: step, train/loss, train/acc, val/loss,
val/acc, lr), checkpoints to ``<out>/checkpoints/`` (last.pt every epoch, best.pt on a new best
validation loss).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from glyphs.data import loaders, make_splits  # noqa: E402
from glyphs.model import build_model  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=HERE / "configs" / "default.toml")
    p.add_argument("--out", type=Path, default=HERE / "runs" / "baseline")
    p.add_argument("--resume", type=Path, default=None)
    for key, kind in [
        ("seed", int),
        ("epochs", int),
        ("batch_size", int),
        ("lr", float),
        ("weight_decay", float),
        ("dropout", float),
        ("width", int),
        ("warmup_steps", int),
        ("clip_grad_norm", float),
        ("patience", int),
        ("n_train", int),
        ("n_val", int),
        ("n_test", int),
    ]:
        p.add_argument("--" + key.replace("_", "-"), dest=key, type=kind, default=None)
    args = p.parse_args(argv)
    config = tomllib.loads(args.config.read_text())
    for key, value in vars(args).items():
        if value is not None or key not in config:
            config[key] = value
    return argparse.Namespace(**config)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def warmup_cosine(warmup: int, total: int):  # type: ignore[no-untyped-def]
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def evaluate(model: nn.Module, loader, criterion: nn.Module) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(images)
            total_loss += criterion(logits, labels).item() * labels.numel()
            correct += (logits.argmax(dim=1) == labels).sum().item()
            seen += labels.numel()
    return total_loss / seen, correct / seen


def main(argv: list[str] | None = None) -> dict[str, float]:
    cfg = parse_args(argv)
    seed_everything(cfg.seed)
    splits = make_splits(cfg.n_train, cfg.n_val, cfg.n_test, seed=cfg.seed)
    train_loader, val_loader, test_loader = loaders(splits, cfg.batch_size, cfg.seed)

    model = build_model(width=cfg.width, dropout=cfg.dropout)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = cfg.epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(cfg.warmup_steps, total_steps)
    )

    out: Path = cfg.out
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    plain_config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(cfg).items()}
    (out / "config.json").write_text(json.dumps(plain_config, indent=2))

    start_epoch, step, best_val, stale = 0, 0, float("inf"), 0
    if cfg.resume is not None:
        state = torch.load(cfg.resume, map_location="cpu")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, step, best_val = state["epoch"] + 1, state["step"], state["best_val"]

    log = (out / "metrics.jsonl").open("a")
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        train_correct, train_seen = 0, 0
        for images, labels in train_loader:
            optimizer.zero_grad(set_to_none=True)
            logits = model(images)
            loss = criterion(logits, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            train_correct += (logits.argmax(dim=1) == labels).sum().item()
            train_seen += labels.numel()
            if step % 10 == 0:
                log.write(
                    json.dumps(
                        {"step": step, "train/loss": loss.item(), "lr": scheduler.get_last_lr()[0]}
                    )
                    + "\n"
                )

        val_loss, val_acc = evaluate(model, val_loader, criterion)
        log.write(
            json.dumps(
                {
                    "step": step,
                    "epoch": epoch,
                    "train/acc": train_correct / train_seen,
                    "val/loss": val_loss,
                    "val/acc": val_acc,
                }
            )
            + "\n"
        )
        log.flush()
        print(
            f"epoch {epoch}: step {step} val_loss {val_loss:.4f} val_acc {val_acc:.3f}", flush=True
        )

        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "step": step,
            "best_val": min(best_val, val_loss),
            "config": plain_config,
        }
        torch.save(state, ckpt_dir / "last.pt")
        if val_loss < best_val:
            best_val, stale = val_loss, 0
            torch.save(state, ckpt_dir / "best.pt")
        else:
            stale += 1
            if stale >= cfg.patience:
                print(f"early stopping after epoch {epoch}", flush=True)
                break

    best = torch.load(ckpt_dir / "best.pt", map_location="cpu")
    model.load_state_dict(best["model"])
    test_loss, test_acc = evaluate(model, test_loader, criterion)
    log.write(json.dumps({"step": step, "test/loss": test_loss, "test/acc": test_acc}) + "\n")
    log.close()
    print(f"test_loss {test_loss:.4f} test_acc {test_acc:.3f}", flush=True)
    return {"val_loss": best_val, "test_loss": test_loss, "test_acc": test_acc}


if __name__ == "__main__":
    main()

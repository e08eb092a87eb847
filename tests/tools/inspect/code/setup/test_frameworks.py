from __future__ import annotations

from tests.tools.inspect.code.setup._helpers import ids, run

LIGHTNING_MODULE = """
import lightning as L
import torch
import torch.nn as nn

class LitModel(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4), 2)

    def training_step(self, batch, batch_idx):
        loss = self.encoder(batch).mean()
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.encoder(batch).mean())

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        return [opt], [sched]
"""

LIGHTNING_TRAIN = """
import argparse
import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from model import LitModel
from data import DataModule

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", default=None)
    args = p.parse_args()
    L.seed_everything(42, workers=True)
    trainer = L.Trainer(
        max_epochs=20,
        deterministic=True,
        gradient_clip_val=1.0,
        callbacks=[EarlyStopping(monitor="val_loss"), ModelCheckpoint(monitor="val_loss")],
    )
    trainer.fit(LitModel(), DataModule(), ckpt_path=args.ckpt)
"""

LIGHTNING_DATA = """
import lightning as L
import torch
from torch.utils.data import DataLoader, random_split

class DataModule(L.LightningDataModule):
    def setup(self, stage=None):
        full = torch.randn(1000, 8, 32)
        g = torch.Generator().manual_seed(0)
        self.train_set, self.val_set = random_split(full, [900, 100], generator=g)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=32, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=32)
"""


def test_a_complete_lightning_project_gets_no_setup_findings() -> None:
    files = {"model.py": LIGHTNING_MODULE, "train.py": LIGHTNING_TRAIN, "data.py": LIGHTNING_DATA}
    assert [(f.id, f.evidence[0].location()) for f in run(files)] == []


def test_a_bare_lightning_trainer_still_checkpoints_and_logs_by_default() -> None:
    train = """
    import lightning as L
    trainer = L.Trainer(max_epochs=3)
    trainer.fit(LitModel(), DataModule())
    """
    found = ids({"model.py": LIGHTNING_MODULE, "train.py": train, "data.py": LIGHTNING_DATA})
    assert "ckpt.none" not in found and "track.none" not in found
    assert {"repro.no-seed", "repro.no-determinism", "train.no-grad-clip"} <= set(found)
    assert "ckpt.no-resume" in found and "train.no-early-stopping" in found


def test_lightning_with_checkpointing_and_logging_switched_off_is_reported() -> None:
    train = """
    import lightning as L
    trainer = L.Trainer(max_epochs=3, enable_checkpointing=False, logger=False)
    trainer.fit(LitModel(), DataModule())
    """
    module = LIGHTNING_MODULE.replace("self.log(", "print(")
    found = ids({"model.py": module, "train.py": train, "data.py": LIGHTNING_DATA})
    assert "ckpt.none" in found and "track.none" in found


HF_TRAIN = """
from datasets import load_dataset
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

ds = load_dataset("imdb")
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
args = TrainingArguments(
    output_dir="out",
    eval_strategy="epoch",
    save_strategy="epoch",
    load_best_model_at_end=True,
    report_to="tensorboard",
    full_determinism=True,
)
trainer = Trainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["test"])
trainer.train(resume_from_checkpoint=True)
"""


def test_a_hugging_face_trainer_project_relies_on_its_defaults() -> None:
    assert [(f.id, f.evidence[0].location()) for f in run({"train.py": HF_TRAIN})] == []


def test_hugging_face_defaults_switched_off_are_reported() -> None:
    src = HF_TRAIN.replace('save_strategy="epoch"', 'save_strategy="no", max_grad_norm=0.0')
    src = src.replace("load_best_model_at_end=True,", 'lr_scheduler_type="constant",')
    found = ids({"train.py": src})
    assert {"ckpt.none", "train.no-grad-clip", "train.no-lr-schedule"} <= set(found)
    assert "repro.no-seed" not in found and "track.none" not in found


def test_an_accelerate_loop_is_training_code() -> None:
    src = """
    from accelerate import Accelerator
    accelerator = Accelerator()
    for batch in loader:
        loss = model(**batch).loss
        accelerator.backward(loss)
        optimizer.step()
    """
    assert "repro.no-seed" in ids({"train.py": src})


HYDRA_TRAIN = """
import hydra
import lightning as L
from omegaconf import DictConfig

@hydra.main(version_base="1.3", config_path="../configs", config_name="train.yaml")
def main(cfg: DictConfig) -> None:
    {seed}
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    trainer.fit(model=model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
"""


def test_a_trainer_built_by_hydra_from_its_config_is_a_training_entry() -> None:
    files = {"model.py": LIGHTNING_MODULE, "data.py": LIGHTNING_DATA}
    unseeded = ids({**files, "train.py": HYDRA_TRAIN.format(seed="")})
    assert "repro.no-seed" in unseeded
    seeded = ids({**files, "train.py": HYDRA_TRAIN.format(seed="L.seed_everything(cfg.seed)")})
    assert "repro.no-seed" not in seeded
    # Lightning's defaults hold: it checkpoints, logs and can resume
    assert not {"ckpt.none", "ckpt.no-resume", "track.none"} & set(seeded)


def test_instantiating_a_config_node_other_than_the_trainer_trains_nothing() -> None:
    train = HYDRA_TRAIN.format(seed="").replace("cfg.trainer", "cfg.callbacks")
    train = train.replace("trainer.fit(", "print(")
    found = ids({"model.py": LIGHTNING_MODULE, "data.py": LIGHTNING_DATA, "train.py": train})
    assert "repro.no-seed" not in found

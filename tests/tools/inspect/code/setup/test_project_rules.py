from __future__ import annotations

from tests.tools.inspect.code.setup._helpers import hits, ids, run

BARE_LOOP = """
import torch

def main():
    model = torch.nn.Linear(10, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        print(loss.item())
"""

PROJECT_IDS = {
    "repro.no-seed",
    "repro.no-determinism",
    "ckpt.none",
    "train.no-validation",
    "train.no-lr-schedule",
    "track.none",
    "data.no-split",
}


def test_a_bare_training_loop_gets_every_project_gap_at_its_backward_call() -> None:
    findings = run({"src/train.py": BARE_LOOP})
    assert {f.id for f in findings} == PROJECT_IDS
    assert {(f.evidence[0].file, f.evidence[0].line) for f in findings} == {("src/train.py", 10)}


def test_a_project_without_training_code_gets_no_project_findings() -> None:
    library = """
    import torch

    def mse(a, b):
        '''>>> loss.backward(); opt.step()'''
        return ((a - b) ** 2).mean()
    """
    assert run({"lib/ops.py": library}) == []
    assert run({}) == []


def test_training_code_in_tests_does_not_make_a_training_project() -> None:
    assert run({"tests/test_train.py": BARE_LOOP, "pkg/test_loop.py": BARE_LOOP}) == []


def test_the_entry_file_is_preferred_by_name() -> None:
    findings = run({"engine.py": BARE_LOOP, "train.py": BARE_LOOP})
    assert {f.evidence[0].file for f in findings} == {"train.py"}


def test_seeds_of_every_library_count() -> None:
    for seeding in (
        "random.seed(0)",
        "np.random.seed(0)",
        "torch.manual_seed(0)",
        "L.seed_everything(42)",
        "pl.seed_everything(42, workers=True)",
        "transformers.set_seed(1)",
        "from accelerate.utils import set_seed\nset_seed(3)",
    ):
        assert "repro.no-seed" not in ids({"train.py": BARE_LOOP, "seed.py": seeding}), seeding


def test_determinism_requests_count_and_an_explicit_false_does_not() -> None:
    for line in (
        "torch.use_deterministic_algorithms(True)",
        "torch.backends.cudnn.deterministic = True",
        "trainer = pl.Trainer(deterministic=True)",
    ):
        assert "repro.no-determinism" not in ids({"train.py": BARE_LOOP, "d.py": line}), line
    off = "torch.backends.cudnn.deterministic = False"
    assert "repro.no-determinism" in ids({"train.py": BARE_LOOP, "d.py": off})


def test_a_validation_pass_removes_the_validation_gap_and_asks_for_early_stopping() -> None:
    val = """
    def validate(model, val_loader):
        model.eval()
    """
    found = ids({"train.py": BARE_LOOP, "val.py": val})
    assert "train.no-validation" not in found
    assert "data.no-split" not in found
    assert "train.no-early-stopping" in found


def test_tracking_with_any_machine_readable_logger_counts_and_print_does_not() -> None:
    for logger in (
        "import wandb\nwandb.log({'loss': 1})",
        "import mlflow\nmlflow.log_metric('loss', 1)",
        "from torch.utils.tensorboard import SummaryWriter\nw = SummaryWriter()",
        "import csv\nw = csv.writer(f)",
        "f.write(json.dumps(row) + '\\n')",
    ):
        assert "track.none" not in ids({"train.py": BARE_LOOP, "log.py": logger}), logger
    assert "track.none" in ids({"train.py": BARE_LOOP, "log.py": "print('loss', 1)"})


def test_a_scheduler_or_manual_decay_counts_as_a_learning_rate_schedule() -> None:
    for sched in (
        "s = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10)",
        "s = get_cosine_schedule_with_warmup(opt, 10, 100)",
        "for g in opt.param_groups:\n    g['lr'] = lr * 0.1",
    ):
        assert "train.no-lr-schedule" not in ids({"train.py": BARE_LOOP, "s.py": sched}), sched


def test_a_recurrent_model_without_clipping_is_reported_with_the_model_location() -> None:
    model = """
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(10, 20)
    """
    findings = [
        f for f in run({"train.py": BARE_LOOP, "model.py": model}) if f.id == "train.no-grad-clip"
    ]
    assert len(findings) == 1
    assert findings[0].evidence[0].file == "train.py"
    assert findings[0].evidence[0].detail == {"model_file": "model.py", "model_line": 6}


def test_clipping_or_a_non_recurrent_model_means_no_clip_finding() -> None:
    model = "self.rnn = nn.GRU(10, 20)\n"
    clip = "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
    assert "train.no-grad-clip" not in ids({"train.py": BARE_LOOP, "m.py": model + clip})
    assert "train.no-grad-clip" not in ids({"train.py": BARE_LOOP, "m.py": "nn.Conv2d(3, 8, 3)"})


def test_an_lstm_mentioned_only_in_a_comment_is_not_a_model() -> None:
    assert "train.no-grad-clip" not in ids({"train.py": BARE_LOOP, "m.py": "# nn.LSTM later\n"})


def test_early_stopping_patience_counter_and_best_checkpoint_count() -> None:
    val = "model.eval()\n"
    for stop in (
        "if bad_epochs >= patience:\n    break",
        "best_acc = max(best_acc, acc)",
        "cb = EarlyStopping(monitor='val_loss')",
        "if self.bad_epochs >= self.args.patience:\n    break",
        "if acc > best:\n    best = acc\n    torch.save(model.state_dict(), 'best.pt')",
        "torch.save(model.state_dict(), os.path.join(out, 'best.pth'))",
    ):
        assert "train.no-early-stopping" not in ids(
            {"train.py": BARE_LOOP, "v.py": val, "s.py": stop}
        ), stop


def test_a_best_word_that_is_not_a_kept_score_is_no_early_stopping() -> None:
    val = "model.eval()\n"
    for other in ("# the best way to train\n", "mode = 'best'\n"):
        assert "train.no-early-stopping" in ids({"train.py": BARE_LOOP, "v.py": val, "o.py": other})


def test_project_findings_point_at_the_trainer_call_for_framework_projects() -> None:
    src = """
    import lightning as L
    trainer = L.Trainer(max_epochs=3)
    trainer.fit(model, dm)
    """
    assert hits({"train.py": src}, "repro.no-seed") == [("train.py", 3)]


def test_scoring_a_test_split_every_epoch_counts_as_validation() -> None:
    # a loader named "testing_..." walked by a plain `def test():`, and a held-out tensor pair
    # scored under no_grad, are both validation even without "val" or "eval" in the text
    by_function = """
    def test():
        with torch.no_grad():
            for xb, yb in testing_batches_loader:
                score(model(xb), yb)
    """
    by_tensor = """
    with torch.no_grad():
        held = criterion(model(test_input), test_target)
    """
    for extra in (by_function, by_tensor):
        assert "train.no-validation" not in ids({"train.py": BARE_LOOP, "check.py": extra}), extra


def test_a_held_out_pass_through_a_shared_epoch_function_counts_as_validation() -> None:
    for extra in (
        'for e in range(5):\n    run_epoch(loaders["train"])\n    run_epoch(loaders["val"])\n',
        "for e in range(5):\n    run_epoch(a, training=True)\n    run_epoch(b, training=False)\n",
        "for e in range(5):\n    fit_epoch(train_dl)\n    acc = score(model, dev_dl)\n",
        "for e in range(5):\n    fit_epoch(train_dl)\n    score(model, holdout_loader)\n",
    ):
        assert "train.no-validation" not in ids({"train.py": BARE_LOOP, "check.py": extra}), extra


def test_a_shared_epoch_function_only_ever_training_is_not_validation() -> None:
    extra = "for e in range(5):\n    run_epoch(dl, train=True)\n    device = dev_id\n"
    assert "train.no-validation" in ids({"train.py": BARE_LOOP, "other.py": extra})


def test_unit_tests_and_a_test_size_argument_are_not_validation() -> None:
    for extra in (
        "class Checks:\n    def test_shapes(self):\n        pass\n",
        "parts = split(data, test_size=0.2)\n",
    ):
        assert "train.no-validation" in ids({"train.py": BARE_LOOP, "other.py": extra}), extra


GAN = """
import torch
import torch.nn as nn

class Generator(nn.Module):
    pass

class Discriminator(nn.Module):
    pass

netG, netD = Generator(), Discriminator()
optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4)
optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4)
for real, _ in dataloader:
    netD.zero_grad()
    fake = netG(torch.randn(64, 100))
    errD = crit(netD(real), ones) + crit(netD(fake.detach()), zeros)
    errD.backward()
    optimizerD.step()
    netG.zero_grad()
    errG = crit(netD(fake), ones)
    errG.backward()
    optimizerG.step()
"""

POLICY = """
import gymnasium as gym
import torch
env = gym.make("CartPole-v1")
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
for episode in range(500):
    state, _ = env.reset()
    log_probs, rewards = run_episode(env, policy)
    loss = -(torch.stack(log_probs) * returns(rewards)).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_gans_and_reinforcement_learning_have_no_held_out_split_to_ask_for() -> None:
    for src in (GAN, POLICY):
        found = ids({"train.py": src})
        assert "train.no-validation" not in found, src
        assert "data.no-split" not in found, src
        assert "train.no-early-stopping" not in found, src
        assert "ckpt.none" in found  # the other project gaps are still reported


def test_a_torch_generator_seeding_a_split_does_not_make_a_gan() -> None:
    src = (
        BARE_LOOP
        + """
    g = torch.Generator().manual_seed(0)
    sampler_gen = torch.Generator(device="cpu")
    opt_D = None  # a stray name alone is not a discriminator
    """
    )
    found = ids({"train.py": src})
    assert "train.no-validation" in found and "data.no-split" in found


MANUAL_SGD = """
import torch
torch.manual_seed(0)
for epoch in range(3):
    for xb, yb in batches:
        loss = ((model(xb) - yb) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
                p.grad.zero_()
    torch.save({"model": model.state_dict(), "epoch": epoch}, "ckpt.pt")
"""


def test_a_manual_sgd_loop_is_training_code_and_its_checkpoint_needs_no_optimizer() -> None:
    found = ids({"train.py": MANUAL_SGD})
    assert "train.no-validation" in found and "track.none" in found  # a training project
    assert "ckpt.incomplete" not in found and "ckpt.none" not in found
    in_place = MANUAL_SGD.replace("p -= lr * p.grad", "p.sub_(lr * p.grad)")
    assert "train.no-validation" in ids({"train.py": in_place})


BENCHMARK = """
import time
import torch
torch.manual_seed(0)
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
batches = [(torch.randn(64, 32), torch.randint(0, 10, (64,))) for _ in range(20)]
t0 = time.perf_counter()
for step in range(100):
    x, y = batches[step % len(batches)]
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
print("it/s", 100 / (time.perf_counter() - t0))
"""


def test_a_benchmark_on_random_tensors_needs_no_held_out_data() -> None:
    found = ids({"bench.py": BENCHMARK})
    assert "data.no-split" not in found and "train.no-validation" not in found


def test_the_same_loop_over_real_data_still_needs_held_out_data() -> None:
    real = BENCHMARK.replace(
        "batches = [(torch.randn(64, 32), torch.randint(0, 10, (64,))) for _ in range(20)]",
        "batches = list(torch.utils.data.DataLoader(MyDataset('train.csv'), batch_size=64))",
    )
    found = ids({"train.py": real})
    assert "data.no-split" in found and "train.no-validation" in found
    # noise added to real batches (diffusion, augmentation) does not make the data synthetic
    noisy = real.replace(
        "    x, y = batches", "    noise = torch.randn(64, 32)\n    x, y = batches"
    )
    assert "data.no-split" in ids({"train.py": noisy})


FRESH_BATCHES = """
import torch
import torch.nn.functional as F
true_w = torch.randn(4, 1)
def features(x):
    return torch.cat([x ** i for i in range(1, 5)], 1)
def get_batch(batch_size=32):
    x = features(torch.randn(batch_size, 1))
    return x, x @ true_w
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for step in range(1000):
    x, y = get_batch()
    opt.zero_grad()
    F.smooth_l1_loss(model(x), y).backward()
    opt.step()
"""


def test_fresh_random_batches_from_a_helper_of_the_same_file_need_no_held_out_data() -> None:
    # pytorch/examples' regression: every batch is new noise, so a held-out split is moot
    found = ids({"main.py": FRESH_BATCHES})
    assert "data.no-split" not in found and "train.no-validation" not in found


def test_a_get_batch_that_reads_a_file_is_still_a_data_source() -> None:
    # nanoGPT's get_batch slices a memmap of tokens: real data, which needs a held-out split
    reads = FRESH_BATCHES.replace(
        "    x = features(torch.randn(batch_size, 1))",
        "    data = np.memmap('train.bin', dtype=np.uint16, mode='r')\n"
        "    ix = torch.randint(len(data) - 9, (batch_size,))\n"
        "    x = features(torch.from_numpy(data[ix].astype(np.float32)).unsqueeze(1))",
    )
    assert "data.no-split" in ids({"main.py": reads})
    # and a get_batch imported from elsewhere may read anything
    imported = FRESH_BATCHES.replace("def get_batch(", "def make_batch(").replace(
        "import torch\n", "import torch\nfrom batches import get_batch\n", 1
    )
    assert "data.no-split" in ids({"main.py": imported})


def test_names_that_read_as_validation_do_not_undo_the_gan_and_rl_exemptions() -> None:
    # PyTorch-GAN names its real-label tensor `valid`; cleanrl's rollout buffer `b_values`
    gan = GAN.replace("ones", "valid")
    policy = POLICY.replace("returns(rewards)", "(b_returns - b_values)")
    for src in (gan, policy):
        found = ids({"train.py": src})
        assert "train.no-early-stopping" not in found and "train.no-validation" not in found, src


def test_a_gan_at_a_constant_learning_rate_is_as_designed_other_training_is_not() -> None:
    assert "train.no-lr-schedule" not in ids({"train.py": GAN})
    assert "train.no-lr-schedule" in ids({"train.py": POLICY})
    assert "train.no-lr-schedule" in ids({"train.py": BARE_LOOP})


HF_FINETUNE = """
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

def train():
    model = AutoModelForCausalLM.from_pretrained("facebook/opt-125m")
    args = TrainingArguments(output_dir="out", lr_scheduler_type="cosine")
    # eval is skipped on purpose: the dev set is scored elsewhere
    data_module = dict(train_dataset=train_dataset, eval_dataset=EVAL)
    trainer = Trainer(model=model, args=args, **data_module)
    trainer.train()
"""


def test_a_trainer_told_it_has_no_eval_dataset_has_no_held_out_data() -> None:
    found = ids({"train.py": HF_FINETUNE.replace("EVAL", "None")})
    assert "train.no-validation" in found and "data.no-split" in found
    found = ids({"train.py": HF_FINETUNE.replace("EVAL", 'ds["validation"]')})
    assert "train.no-validation" not in found and "data.no-split" not in found


TIMM_STYLE = """
import torch
from timm.utils import NativeScaler

torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
loss_scaler = NativeScaler()
for epoch in range(10):
    for samples, targets in loader:
        with torch.autocast("cuda"):
            loss = criterion(model(samples), targets)
        optimizer.zero_grad()
        loss_scaler(loss, optimizer, clip_grad=None, parameters=model.parameters())
"""


def test_timm_style_loss_scaler_training_is_a_training_entry() -> None:
    # backward() and step() both happen inside loss_scaler(loss, optimizer): DeiT, MAE, ConvNeXt
    assert hits({"engine.py": TIMM_STYLE}, "repro.no-determinism") == [("engine.py", 13)]
    no_call = TIMM_STYLE.replace("loss_scaler(loss, optimizer", "log(loss, optimizer")
    assert hits({"engine.py": no_call}, "repro.no-determinism") == []

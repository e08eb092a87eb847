from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of, run_files

MODEL = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = {drop}
        return self.fc2(x)
"""


def test_functional_dropout_that_ignores_eval_mode_is_reported():
    for drop in [
        "F.dropout(x, 0.5)",
        "F.dropout(x, p=0.3)",
        "torch.nn.functional.dropout(x, p=0.2)",
        "F.dropout2d(x, 0.1)",
        "F.dropout(x, p=0.5, training=True)",
        "nn.functional.dropout(x, 0.5, True)",
    ]:
        src = MODEL.format(drop=drop)
        assert lines_of(src, "mode.dropout-always-on") == [14], drop


def test_functional_dropout_from_an_import_of_the_function_is_reported():
    src = """
import torch.nn as nn
from torch.nn.functional import dropout, relu

class Block(nn.Module):
    def forward(self, x):
        return dropout(relu(x), 0.1)
"""
    assert "mode.dropout-always-on" in ids(src)


def test_dropout_that_follows_the_module_mode_or_is_meant_stochastic_is_fine():
    for drop in [
        "F.dropout(x, 0.5, training=self.training)",
        "F.dropout(x, p=0.5, training=self.training and self.use_dropout)",
        "F.dropout(x, 0.5, self.training)",
        "self.drop(x)",
    ]:
        assert "mode.dropout-always-on" not in ids(MODEL.format(drop=drop)), drop
    mc = """
import torch.nn as nn
import torch.nn.functional as F

class MCDropoutNet(nn.Module):
    def forward(self, x):
        return self.fc(F.dropout(x, 0.5, training=True))

class Net(nn.Module):
    def sample_predictions(self, x, n=20):
        return [self.fc(F.dropout(x, 0.5)) for _ in range(n)]
"""
    assert "mode.dropout-always-on" not in ids(mc)


CLASSIFIER = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(20, 5)
{init}
    def forward(self, x):
{forward}

model = Classifier()
criterion = nn.NLLLoss()
"""


def _classifier(init: str, forward: str) -> str:
    return CLASSIFIER.format(init=init, forward=forward)


def test_a_softmax_over_the_batch_in_a_classifier_output_is_reported():
    cases = [
        ("        self.out = nn.LogSoftmax(dim=0)\n", "        return self.out(self.body(x))"),
        ("", "        return F.log_softmax(self.body(x), dim=0)"),
        ("", "        logits = self.body(x)\n        return torch.softmax(logits, 0)"),
        ("", "        probs = self.body(x).log_softmax(0)\n        return probs"),
        (
            "        self.net = nn.Sequential(nn.Linear(20, 5), nn.LogSoftmax(dim=0))\n",
            "        return self.net(x)",
        ),
        (
            "",
            "        probs = F.softmax(self.body(x), dim=0)\n"
            "        return torch.log(probs + 1e-9)",
        ),
        ("", "        return torch.log(torch.softmax(self.body(x), 0))"),
    ]
    for init, forward in cases:
        src = _classifier(init, forward)
        assert "loss.softmax-wrong-dim" in ids(src), forward


def test_a_softmax_over_the_batch_fed_to_the_loss_in_the_loop_is_reported():
    src = """
import torch.nn.functional as F
for x, y in loader:
    out = model(x)
    loss = F.nll_loss(F.log_softmax(out, dim=0), y)
    loss.backward()
"""
    assert "loss.softmax-wrong-dim" in ids(src)


def test_a_class_softmax_and_attention_over_a_sequence_are_fine():
    fine = [
        ("        self.out = nn.LogSoftmax(dim=1)\n", "        return self.out(self.body(x))"),
        ("", "        return F.log_softmax(self.body(x), dim=-1)"),
        ("", "        return self.body(x).softmax(1)"),
        (
            "",
            "        scores = self.body(x)\n        weights = F.softmax(scores, dim=0)\n"
            "        return (weights * x).sum(0)",
        ),
        (
            "",
            "        probs = F.softmax(self.body(x), dim=1)\n"
            "        return torch.log(probs + 1e-9)",
        ),
    ]
    for init, forward in fine:
        assert "loss.softmax-wrong-dim" not in ids(_classifier(init, forward)), forward
    attention = """
import torch.nn as nn
import torch.nn.functional as F
class Attn(nn.Module):
    def forward(self, hidden, outputs):
        attn_energies = self.score(hidden, outputs)
        return F.softmax(attn_energies, dim=0)
criterion = nn.NLLLoss()
"""
    assert "loss.softmax-wrong-dim" not in ids(attention)


def test_a_dim_zero_softmax_in_a_project_without_a_classification_loss_is_not_reported():
    src = _classifier("", "        return F.softmax(self.body(x), dim=0)").replace(
        "criterion = nn.NLLLoss()", "criterion = nn.MSELoss()"
    )
    assert "loss.softmax-wrong-dim" not in ids(src)


def test_the_model_class_in_another_file_is_judged_with_the_projects_loss():
    model = "import torch.nn as nn\nimport torch.nn.functional as F\nclass Net(nn.Module):\n"
    model += "    def forward(self, x):\n        return F.log_softmax(self.fc(x), dim=0)\n"
    train = "from model import Net\nimport torch.nn.functional as F\n"
    train += "def fit(net, loader):\n    for x, y in loader:\n"
    train += "        F.nll_loss(net(x), y).backward()\nfit(Net(), loader)\n"
    found = run_files({"model.py": model, "train.py": train})
    assert [(f.id, f.evidence[0].file) for f in found if f.id == "loss.softmax-wrong-dim"] == [
        ("loss.softmax-wrong-dim", "model.py")
    ]


SEQ = """
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence

PAD = 0
class Tagger(nn.Module):
    def __init__(self, vocab, tags):
        super().__init__()
        self.emb = nn.Embedding(vocab, 64, padding_idx=PAD)
        self.rnn = nn.LSTM(64, 64, batch_first=True)
        self.out = nn.Linear(64, tags)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.out(h)

def collate(batch):
    xs, ys = zip(*batch)
    return pad_sequence(xs, batch_first=True), pad_sequence(ys, batch_first=True)

criterion = {loss}
for x, y in loader:
    logits = model(x)
    loss = criterion({args})
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def test_a_token_level_loss_that_counts_padding_is_reported():
    for loss, args in [
        ("nn.CrossEntropyLoss()", "logits.view(-1, logits.size(-1)), y.view(-1)"),
        ("nn.CrossEntropyLoss()", "logits.reshape(-1, 12), y.reshape(-1)"),
        ("nn.CrossEntropyLoss()", "logits.transpose(1, 2), y"),
        ("nn.NLLLoss(reduction='mean')", "logits.log_softmax(-1).flatten(0, 1), y.flatten()"),
    ]:
        src = SEQ.format(loss=loss, args=args)
        assert "loss.padding-not-ignored" in ids(src), (loss, args)


def test_a_token_level_loss_that_ignores_or_masks_padding_is_fine():
    ok = [
        ("nn.CrossEntropyLoss(ignore_index=PAD)", "logits.view(-1, logits.size(-1)), y.view(-1)"),
        ("nn.CrossEntropyLoss(reduction='none')", "logits.transpose(1, 2), y"),
    ]
    for loss, args in ok:
        assert "loss.padding-not-ignored" not in ids(SEQ.format(loss=loss, args=args))
    hf = SEQ.format(loss="nn.CrossEntropyLoss()", args="logits.view(-1, 12), y.view(-1)")
    hf = hf.replace("pad_sequence(ys, batch_first=True)", "pad_sequence(ys, True, -100)")
    assert "loss.padding-not-ignored" not in ids(hf)


def test_a_sentence_classifier_with_a_padding_index_needs_no_ignore_index():
    src = SEQ.format(loss="nn.CrossEntropyLoss()", args="logits[:, -1], y")
    assert "loss.padding-not-ignored" not in ids(src)


def test_the_class_that_reaches_the_training_loop_as_a_parameter_is_the_one_judged():
    src = """
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=0)

class Scorer(nn.Module):
    def forward(self, x):
        return F.softmax(self.fc(x), dim=0)

def fit(net, loader, opt):
    for x, y in loader:
        opt.zero_grad()
        loss = F.nll_loss(net(x), y)
        loss.backward()
        opt.step()

model = Net()
fit(model, loader, opt)
"""
    assert lines_of(src, "loss.softmax-wrong-dim") == [7]

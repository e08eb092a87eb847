import torch
from torch import nn

torch.manual_seed(0)
text = "the quick brown fox jumps over the lazy dog " * 200
vocab = sorted(set(text))
ids = torch.tensor([vocab.index(c) for c in text])
V, T, B = len(vocab), 32, 16


class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32)
        self.rnn = nn.LSTM(32, 64, batch_first=True)
        self.out = nn.Linear(64, V)

    def forward(self, x, state=None):
        h, state = self.rnn(self.emb(x), state)
        return self.out(h), state


model = CharLM()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
n_batches = (len(ids) - 1) // (B * T)
data = ids[: n_batches * B * T + 1]
xs = data[:-1].view(B, -1)
ys = data[1:].view(B, -1)
for epoch in range(3):
    state = None
    model.train()
    for i in range(0, xs.size(1) - T, T):
        x, y = xs[:, i : i + T], ys[:, i : i + T]
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = loss_fn(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    print(epoch, loss.item())

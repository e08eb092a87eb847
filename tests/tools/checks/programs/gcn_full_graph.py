# Transductive node classification: every pass feeds the whole graph; training and validation
# differ only in which nodes' labels the loss reads. Correct: the shared input rows are the
# graph, not a leak between splits.
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
N, C, D = 240, 3, 10
labels = torch.randint(0, C, (N,))
feats = torch.randn(N, D) + 1.5 * torch.randn(C, D)[labels]
adj = (torch.rand(N, N) < 0.03) | ((labels[:, None] == labels[None, :]) & (torch.rand(N, N) < 0.06))
adj = (adj | adj.T).float() + torch.eye(N)
norm_adj = adj / adj.sum(1, keepdim=True)
order = torch.randperm(N)
train_nodes, val_nodes = order[:160], order[160:]


class GraphConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(D, 24)
        self.second = nn.Linear(24, C)

    def forward(self, x, a):
        return a @ self.second(F.relu(a @ self.first(x)))


net = GraphConvNet()
opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=5e-4)
for epoch in range(60):
    net.train()
    opt.zero_grad()
    loss = F.cross_entropy(net(feats, norm_adj)[train_nodes], labels[train_nodes])
    loss.backward()
    opt.step()
    net.eval()
    with torch.no_grad():
        val_loss = F.cross_entropy(net(feats, norm_adj)[val_nodes], labels[val_nodes])
    print(epoch, float(loss), float(val_loss))

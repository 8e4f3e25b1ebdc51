"""Batch normalization from scratch, as d2l writes it: the moving statistics are updated
through .data, and inference (grad mode off) normalizes with them."""
import torch
from torch import nn
from torch.nn import functional as F


def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    # Use is_grad_enabled to determine whether we are in training mode
    if not torch.is_grad_enabled():
        # In prediction mode, use mean and variance obtained by moving average
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / torch.sqrt(var + eps)
        # Update the mean and variance using moving average
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta  # Scale and shift
    return Y, moving_mean.data, moving_var.data


class BatchNorm(nn.Module):
    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.moving_mean = torch.zeros(shape)
        self.moving_var = torch.ones(shape)

    def forward(self, X):
        if self.moving_mean.device != X.device:
            self.moving_mean = self.moving_mean.to(X.device)
            self.moving_var = self.moving_var.to(X.device)
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma, self.beta, self.moving_mean,
            self.moving_var, eps=1e-5, momentum=0.1)
        return Y


torch.manual_seed(0)
centers = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
labels = torch.randint(0, 3, (600,))
X = centers[labels] + 0.6 * torch.randn(600, 2)

bn = BatchNorm(16, num_dims=2)
net = nn.Sequential(nn.Linear(2, 16), bn, nn.ReLU(), nn.Linear(16, 3))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(15):
    order = torch.randperm(600)
    for i in range(0, 600, 50):
        idx = order[i:i + 50]
        loss = F.cross_entropy(net(X[idx]), labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

# the moving statistics stayed plain tensors outside the graph
assert not bn.moving_mean.requires_grad and bn.moving_mean.grad_fn is None
with torch.no_grad():
    hidden = net[0](X)
    accuracy = (net(X).argmax(dim=1) == labels).float().mean().item()
# after many batches the moving mean follows the layer's input mean
mean_gap = (bn.moving_mean - hidden.mean(dim=0)).abs().max().item()
scale = hidden.abs().mean().item()
print(f'RESULT accuracy={accuracy:.4f} mean_gap={mean_gap / scale:.4f}')

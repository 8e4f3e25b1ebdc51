"""A classifier on tensors: TensorDataset, random_split, DataLoader, and the argmax accuracy."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(0)
X = torch.randn(2000, 20)
true_w = torch.randn(20, 4)
y = (X @ true_w).argmax(dim=1)

dataset = TensorDataset(X, y)
train_set, test_set = random_split(dataset, [1600, 400])
train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
test_loader = DataLoader(test_set, batch_size=100)

model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def accuracy(loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for xb, yb in loader:
            correct += (model(xb).argmax(dim=1) == yb).sum().item()
            total += yb.size(0)
    return correct / total


for epoch in range(10):
    model.train()
    running = 0.0
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        running += loss.item() * xb.size(0)
    print(f'epoch {epoch}: loss {running / len(train_set):.4f}')

first_x, first_y = dataset[0]
assert first_x.shape == (20,) and first_y.item() == y[0].item()
print(f'RESULT train_accuracy={accuracy(train_loader):.4f} test_accuracy={accuracy(test_loader):.4f}')

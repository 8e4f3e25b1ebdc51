"""Dropout and Dropout2d: active in training mode, the identity in eval mode."""
from .. import functional as F
from .module import Module


class Dropout(Module):
    """Zeroes each element with probability ``p`` while training (inverted dropout)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f'Dropout: probability has to be between 0 and 1, but got {p}')
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f'p={self.p}, inplace={self.inplace}'


class Dropout2d(Dropout):
    """Zeroes whole channels with probability ``p`` while training."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)

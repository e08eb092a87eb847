"""A small convolutional classifier with batch norm and dropout; it outputs raw logits."""

from __future__ import annotations

from torch import nn

from glyphs.data import NUM_CLASSES


class GlyphNet(nn.Module):
    def __init__(
        self, width: int = 16, dropout: float = 0.2, num_classes: int = NUM_CLASSES
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(2 * width * 4 * 4, 64),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.head(self.features(x))


def build_model(width: int = 16, dropout: float = 0.2) -> GlyphNet:
    return GlyphNet(width=width, dropout=dropout)

"""The CIFAR SKNet of the SKNet seed code (SKNet-pytorch style), written from its description
in the blocks-as-data issue: the reference that tests/fixtures/sknet_cifar/ must equal."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SKConv(nn.Module):
    def __init__(self, channels: int, stride: int, branches: int = 2, groups: int = 8) -> None:
        super().__init__()
        d = max(channels // 2, 32)
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, 3 + 2 * i, stride, padding=1 + i, groups=groups),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=False),
            )
            for i in range(branches)
        )
        self.fc = nn.Linear(channels, d)
        self.fcs = nn.ModuleList(nn.Linear(d, channels) for _ in range(branches))
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        feas = torch.stack([conv(x) for conv in self.convs], dim=1)
        fea_u = feas.sum(dim=1)
        fea_s = fea_u.mean(-1).mean(-1)
        fea_z = self.fc(fea_s)
        vectors = torch.stack([fc(fea_z) for fc in self.fcs], dim=1)
        attention = self.softmax(vectors).unsqueeze(-1).unsqueeze(-1)
        return (feas * attention).sum(dim=1)


class SKUnit(nn.Module):
    def __init__(self, in_features: int, out_features: int, stride: int) -> None:
        super().__init__()
        mid = out_features // 2
        self.feas = nn.Sequential(
            nn.Conv2d(in_features, mid, 1),
            nn.BatchNorm2d(mid),
            SKConv(mid, stride),
            nn.BatchNorm2d(mid),
            nn.Conv2d(mid, out_features, 1),
            nn.BatchNorm2d(out_features),
        )
        if in_features == out_features:
            self.shortcut: nn.Module = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_features, out_features, 1, stride), nn.BatchNorm2d(out_features)
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.feas(x) + self.shortcut(x)


def _stage(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(
        SKUnit(in_features, out_features, 2),
        nn.ReLU(),
        SKUnit(out_features, out_features, 1),
        nn.ReLU(),
        SKUnit(out_features, out_features, 1),
        nn.ReLU(),
    )


class SKNet(nn.Module):
    def __init__(self, class_num: int = 10) -> None:
        super().__init__()
        self.basic_conv = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64))
        self.stage_1 = _stage(64, 256)
        self.stage_2 = _stage(256, 512)
        self.stage_3 = _stage(512, 1024)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(1024, class_num))

    def forward(self, x: Tensor) -> Tensor:
        fea = self.basic_conv(x)
        fea = self.stage_3(self.stage_2(self.stage_1(fea)))
        return self.classifier(torch.flatten(self.pool(fea), 1))

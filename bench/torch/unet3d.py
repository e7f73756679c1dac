"""The 3D U-Net of lib/model/zoo/unet3d-segmenter.ts in PyTorch, for bench/train-3d.ts: the same
layers (3x3x3 conv without bias, affine instance norm, ReLU, 2x2x2 max pooling, nearest upsampling,
skip concatenation, 1x1x1 head), BCE + soft Dice, Adam; prints one JSON line with the step time."""
import json
import sys
import time

import torch
from torch import nn


def block(cin, cout):
    layers = []
    for a, b in ((cin, cout), (cout, cout)):
        layers += [nn.Conv3d(a, b, 3, padding=1, bias=False), nn.InstanceNorm3d(b, affine=True, eps=1e-5), nn.ReLU()]
    return nn.Sequential(*layers)


class Unet3d(nn.Module):
    def __init__(self, channels, width, depth, classes):
        super().__init__()
        self.enc = nn.ModuleList()
        cin = channels
        for s in range(depth):
            self.enc.append(block(cin, width * 2**s))
            cin = width * 2**s
        self.bottleneck = block(cin, width * 2**depth)
        cin = width * 2**depth
        self.dec = nn.ModuleList()
        for s in reversed(range(depth)):
            self.dec.append(block(cin + width * 2**s, width * 2**s))
            cin = width * 2**s
        self.head = nn.Conv3d(cin, classes, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = nn.functional.max_pool3d(x, 2)
        x = self.bottleneck(x)
        for d, skip in zip(self.dec, reversed(skips)):
            x = d(torch.cat([nn.functional.interpolate(x, scale_factor=2, mode="nearest"), skip], 1))
        return self.head(x)


def main():
    patch, width, depth, channels, batch, threads, seconds = (float(v) for v in sys.argv[1:8])
    patch, width, depth, channels, batch, threads = (int(v) for v in (patch, width, depth, channels, batch, threads))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Unet3d(channels, width, depth, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, channels, patch, patch, patch)
    t = (torch.rand(batch, 2, patch, patch, patch) < 0.1).float()

    def step():
        opt.zero_grad()
        z = model(x)
        p = torch.sigmoid(z)
        axes = tuple(range(1, z.dim()))
        dice = (2 * (p * t).sum(axes) + 1) / (p.sum(axes) + t.sum(axes) + 1)
        loss = nn.functional.binary_cross_entropy_with_logits(z, t) + 1 - dice.mean()
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(2):
        step()
    start = time.perf_counter()
    steps = 0
    while time.perf_counter() - start < seconds or steps < 3:
        loss = step()
        steps += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"torch": torch.__version__, "patch": patch, "width": width, "stepMs": round(elapsed / steps * 1000, 1), "steps": steps, "finalLoss": loss}))


main()

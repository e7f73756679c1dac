"""The PyTorch side of `npm run bench:train -- --vs-torch`: the zoo's networks (cnn-classifier,
unet-segmenter) written in PyTorch with the same layers, initial shapes, loss and optimizer as
fedrad's training-step graph, timed on the CPU. It reads one JSON command per line on stdin and
answers one JSON line on stdout, so the TypeScript bench can alternate the two engines in one run:
  {"cmd": "setup", "model": "cnn-classifier", "batch": 32, "inputSize": 64, "width": 16, "threads": 1}
  {"cmd": "time", "seconds": 2}  ->  {"imagesPerSecond": ..., "steps": ..., "loss": ...}
Debian's python3-torch (1.13, CPU) is enough."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_interop_threads(1)


def conv_bn_relu(cin, cout):
    # BatchNorm's momentum 0.1 is ONNX's 0.9 (running = 0.9 running + 0.1 batch), epsilon 1e-5.
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1), nn.ReLU())


class CnnClassifier(nn.Module):
    def __init__(self, width, classes=2):
        super().__init__()
        layers, cin = [], 1
        for stage in range(3):
            cout = width * 2 ** stage
            layers += [conv_bn_relu(cin, cout), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        return self.head(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def double(cin, cout):
    return nn.Sequential(conv_bn_relu(cin, cout), conv_bn_relu(cout, cout))


class UnetSegmenter(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.enc1, self.enc2, self.bottleneck = double(1, w), double(w, 2 * w), double(2 * w, 4 * w)
        self.dec2, self.dec1 = double(6 * w, 2 * w), double(3 * w, w)
        self.head = nn.Conv2d(w, 1, 1)

    def forward(self, x):
        s1 = self.enc1(x)
        s2 = self.enc2(F.max_pool2d(s1, 2))
        bottom = self.bottleneck(F.max_pool2d(s2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(bottom, scale_factor=2, mode='nearest'), s2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2, mode='nearest'), s1], 1))
        return self.head(d1)


def bce_dice(z, t):
    # fedrad's bce-dice: mean BCE with logits + 1 - mean over samples of (2 sum(p t) + 1) / (sum p + sum t + 1)
    p = torch.sigmoid(z)
    dims = tuple(range(1, z.dim()))
    dice = (2 * (p * t).sum(dims) + 1) / (p.sum(dims) + t.sum(dims) + 1)
    return F.binary_cross_entropy_with_logits(z, t) + 1 - dice.mean()


state = {}


def setup(cmd):
    torch.set_num_threads(int(cmd['threads']))
    torch.manual_seed(0)
    batch, size, width = int(cmd['batch']), int(cmd['inputSize']), int(cmd.get('width', 16))
    if cmd['model'] == 'cnn-classifier':
        model = CnnClassifier(width)
        target = torch.arange(batch) % 2
        loss_fn = F.cross_entropy
    elif cmd['model'] == 'unet-segmenter':
        model = UnetSegmenter(width)
        target = (torch.rand(batch, 1, size, size) > 0.9).float()
        loss_fn = bce_dice
    else:
        raise ValueError(f"unknown model {cmd['model']!r}; this bench has cnn-classifier and unet-segmenter")
    model.train()
    state.update(model=model, x=torch.randn(batch, 1, size, size), target=target, loss_fn=loss_fn, batch=batch,
                 opt=torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8))
    for _ in range(3):
        step()
    return {'ok': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}


def step():
    s = state
    s['opt'].zero_grad(set_to_none=True)
    loss = s['loss_fn'](s['model'](s['x']), s['target'])
    loss.backward()
    s['opt'].step()
    return loss


def timed(cmd):
    seconds = float(cmd['seconds'])
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds or n < 3:
        loss = step()
        n += 1
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {'imagesPerSecond': n * state['batch'] / elapsed, 'cpuMsPerImage': cpu * 1000 / (n * state['batch']), 'steps': n, 'stepMs': elapsed / n * 1000, 'loss': float(loss)}


for line in sys.stdin:
    try:
        cmd = json.loads(line)
        reply = setup(cmd) if cmd['cmd'] == 'setup' else timed(cmd)
    except Exception as err:  # reported to the bench as a line, not a traceback
        reply = {'error': f'{type(err).__name__}: {err}'}
    print(json.dumps(reply), flush=True)

# Exports PyTorch models the way docs/bring-your-own-model.md says (training mode, opset 17, dynamic
# batch) and takes one SGD step in PyTorch, for test/unit/model/pytorch-export.test.ts to repeat in
# fedrad and compare. Writes, per model, <name>.onnx, <name>.input.f32, <name>.target.f32 and
# <name>.after.json (state dict after the step, float32 values as lists). Run with Debian's python3.
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

out = sys.argv[1]
LR = 0.1


def block2d(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class Cnn2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(block2d(1, 4), nn.MaxPool2d(2), block2d(4, 8), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(8, 3)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class UNet2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = block2d(1, 4)
        self.mid = block2d(4, 8)
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
        self.dec = block2d(12, 4)
        self.head = nn.Conv2d(4, 1, 1)

    def forward(self, x):
        e = self.enc(x)
        m = self.mid(F.max_pool2d(e, 2))
        return self.head(self.dec(torch.cat([self.up(m), e], 1)))


class UNet3d(nn.Module):
    """MONAI-like: InstanceNorm, PReLU, strided ConvTranspose for upsampling."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.InstanceNorm3d(4, affine=True), nn.PReLU())
        self.mid = nn.Sequential(nn.Conv3d(4, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU())
        self.up = nn.ConvTranspose3d(8, 4, 2, stride=2)
        self.dec = nn.Sequential(nn.Conv3d(8, 4, 3, padding=1), nn.LeakyReLU(0.1))
        self.head = nn.Conv3d(4, 1, 1)

    def forward(self, x):
        e = self.enc(x)
        m = self.mid(F.max_pool3d(e, 2))
        return self.head(self.dec(torch.cat([self.up(m), e], 1)))


CASES = {
    'cnn2d': (Cnn2d, [4, 1, 16, 16], 'ce'),
    'unet2d': (UNet2d, [2, 1, 16, 16], 'bce'),
    'unet3d': (UNet3d, [2, 1, 8, 8, 8], 'bce'),
}

names = sys.argv[2:] or list(CASES)
for name in names:
    cls, shape, loss = CASES[name]
    torch.manual_seed(0)
    model = cls()
    x = torch.randn(*shape)
    path = f'{out}/{name}.onnx'
    model.train()
    dynamic = {'input': {0: 'batch'}, 'logits': {0: 'batch'}}
    torch.onnx.export(model, x, path, opset_version=17, input_names=['input'], output_names=['logits'], dynamic_axes=dynamic,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    # Tracing ran the model in training mode, which moved BatchNorm's running statistics; the export
    # holds the moved values, so the step starts from the exported model's state.
    exported = {k: v.clone() for k, v in model.state_dict().items()}
    model = cls()
    model.load_state_dict(exported)
    model.train()
    z = model(x)
    if loss == 'ce':
        target = F.one_hot(torch.arange(shape[0]) % z.shape[1], z.shape[1]).float()
        value = -(target * F.log_softmax(z, 1)).sum(1).mean()
    else:
        g = torch.Generator().manual_seed(1)
        target = (torch.rand(z.shape, generator=g) < 0.4).float()
        value = F.binary_cross_entropy_with_logits(z, target)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    opt.zero_grad()
    value.backward()
    opt.step()
    x.numpy().astype('float32').tofile(f'{out}/{name}.input.f32')
    target.numpy().astype('float32').tofile(f'{out}/{name}.target.f32')
    after = {k: v.detach().reshape(-1).tolist() for k, v in model.state_dict().items() if v.dtype == torch.float32}
    json.dump({'loss': value.item(), 'inputShape': shape, 'targetShape': list(target.shape), 'after': after}, open(f'{out}/{name}.after.json', 'w'))
print('ok')

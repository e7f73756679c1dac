#!/usr/bin/env python3
"""Export a PyTorch or MONAI model for fedrad, and load a federated model back into PyTorch.

    python3 examples/export_pytorch.py --model unet2d --size 64 --out my-unet.onnx
    fedrad model check my-unet.onnx
    fedrad simulate --model ./my-unet.onnx --task segmentation

    # after a run: copy the federated weights back into the PyTorch model
    python3 examples/export_pytorch.py --model unet2d --size 64 --load-federated global.onnx --save unet.pt

--model monai-unet needs MONAI (pip install monai); --load-federated needs the onnx package
(pip install onnx). Your own network: import this file and call export_for_fedrad(model, example).
See docs/bring-your-own-model.md.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


def export_for_fedrad(model: nn.Module, example: torch.Tensor, path: str) -> None:
    """Writes `model` as fedrad trains it.

    - training mode: BatchNorm stays a BatchNormalization node with its running statistics (an
      eval-mode export folds it into the convolutions, and there would be nothing to federate);
      fedrad writes every global model back in inference mode.
    - do_constant_folding=False: initializer names are the state-dict names, so the federated
      weights load back with load_federated_weights().
    - opset 17, one input named 'input', output 'logits', dynamic batch axis.
    Dropout exports as Dropout and is not applied during federated training.
    """
    model.train()
    torch.onnx.export(
        model, example, path,
        opset_version=17,
        input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
        training=torch.onnx.TrainingMode.TRAINING,
        do_constant_folding=False,
    )


def load_federated_weights(model: nn.Module, path: str) -> nn.Module:
    """Copies a fedrad global model's initializers (trained weights, federated running statistics)
    into `model`, matching them by name to its state dict."""
    import onnx
    from onnx import numpy_helper

    values = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(path).graph.initializer}
    state = model.state_dict()
    missing = [k for k, v in state.items() if v.is_floating_point() and k not in values]
    if missing:
        raise KeyError(f'{path} has no initializer for {missing[:5]}: was it exported from this model with do_constant_folding=False?')
    model.load_state_dict({k: (values[k].reshape(v.shape) if k in values else v) for k, v in state.items()})
    return model.eval()


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class UNet2d(nn.Module):
    """A small 2-D U-Net: one logit per pixel (segmentation)."""

    def __init__(self, width=8):
        super().__init__()
        self.enc1, self.enc2, self.mid = block(1, width), block(width, 2 * width), block(2 * width, 4 * width)
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
        self.dec2, self.dec1 = block(6 * width, 2 * width), block(3 * width, width)
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up(m), e2], 1))
        return self.head(self.dec1(torch.cat([self.up(d2), e1], 1)))


class Cnn2d(nn.Module):
    """A small classifier: two logits per image."""

    def __init__(self, width=8, classes=2):
        super().__init__()
        self.features = nn.Sequential(block(1, width), nn.MaxPool2d(2), block(width, 2 * width), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(2 * width, classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def build(name: str) -> nn.Module:
    if name == 'unet2d':
        return UNet2d()
    if name == 'cnn2d':
        return Cnn2d()
    if name == 'monai-unet':
        from monai.networks.nets import UNet  # InstanceNorm and PReLU by default: both train in fedrad
        return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 16, 32), strides=(2, 2))
    raise SystemExit(f'unknown --model {name!r}: use unet2d, cnn2d or monai-unet')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default='unet2d', help='unet2d | cnn2d | monai-unet')
    p.add_argument('--size', type=int, default=64, help='square input size (fedrad simulate writes single-channel images of this size)')
    p.add_argument('--out', help='ONNX file to write')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--load-federated', help='a fedrad global model to load into the network')
    p.add_argument('--save', help='where to save the loaded state dict (torch.save)')
    a = p.parse_args()
    torch.manual_seed(a.seed)
    model = build(a.model)
    if a.out:
        export_for_fedrad(model, torch.randn(2, 1, a.size, a.size), a.out)
        print(f'wrote {a.out}; next: fedrad model check {a.out}')
    if a.load_federated:
        load_federated_weights(model, a.load_federated)
        with torch.no_grad():
            print('federated model output shape:', tuple(model(torch.randn(1, 1, a.size, a.size)).shape))
        if a.save:
            torch.save(model.state_dict(), a.save)
            print(f'saved {a.save}')


if __name__ == '__main__':
    main()

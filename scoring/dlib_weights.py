"""dlib's model files, and the weights of its face-recognition ResNet read with numpy alone.

The files (``dlib_face_recognition_resnet_model_v1.dat``, CC0, and the 5-point shape predictor)
ship in the ``face-recognition-models`` wheel. The weights are read by a Python reader of dlib's
serialization (``dlib/serialize.h``, ``dlib/dnn/core.h``, ``layers.h``, ``input.h``, ``loss.h``,
``tensor.h``); neither dlib nor torch is called. The stream is walked layer by layer and its
sequence of layers (kinds, sizes, strides, paddings) must equal the network of
``scoring.dlib_resnet`` (dlib's ``dnn_face_recognition_ex.cpp``), else reading raises.
"""

from __future__ import annotations

import builtins
import importlib.util
import math
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np

RESNET_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
# The 5-point model only: the 68-point model's training data (iBUG 300-W) forbids commercial use.
LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"
CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128

# (output channels, downsamples) of the residual units in forward order.
RESIDUAL_UNITS = (
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


@dataclass(frozen=True, eq=False)
class ResNetWeights:
    """The face-recognition ResNet's parameters, float32, each kind in forward order.

    ``means``: the input's per-channel means (R, G, B); ``convolutions``: (weight (out, in, rows,
    cols), bias (out,)) per convolution; ``affines``: (gamma, beta), one value per channel each,
    per affine layer; ``fc``: (256, 128), the descriptor being ``pooled features @ fc``.
    """

    means: tuple[float, float, float]
    convolutions: tuple[tuple[np.ndarray, np.ndarray], ...]
    affines: tuple[tuple[np.ndarray, np.ndarray], ...]
    fc: np.ndarray


def read_resnet_weights(path: str | Path) -> ResNetWeights:
    """The weights of dlib's face-recognition ResNet from its ``.dat`` file. Raises
    ``ValueError`` when the file is not that network."""
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

    def arrays(kind: str) -> tuple:
        return tuple(layer.arrays for layer in layers if layer.signature[0] == kind)

    ((fc,),) = arrays("fc")
    return ResNetWeights(means, arrays("con"), arrays("affine"), fc.reshape(-1, DESCRIPTOR_SIZE))


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

    def peek_int(self) -> builtins.int:
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

    def alias(self) -> tuple[builtins.int, ...]:
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
    for width, down in RESIDUAL_UNITS:
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

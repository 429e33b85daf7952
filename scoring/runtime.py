"""ONNX Runtime sessions for the small per-face models (FSA-Net, a FaceQNet-style model)."""

from __future__ import annotations

from collections.abc import Sequence


def onnx_providers(device: str) -> list[str]:
    """Execution providers for a torch-style device name: CUDA first when asked for and present."""
    import onnxruntime

    if (
        device.startswith("cuda")
        and "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    ):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def onnx_session(path: str, providers: Sequence[str]):
    """A session running one operator at a time: these models see one 64-224 px face per call,
    where threads cost more than they give (measured: 2x the faces/s of the default on 2 cores).
    Scale out with more workers instead."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=list(providers))

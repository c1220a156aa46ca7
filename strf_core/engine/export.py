"""Export a trained model to ONNX (features and logits for a batch of clips)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from strf_core.atomic import atomic_path

MAX_FRAMES = 256  # the longest clip a graph with a dynamic frame count accepts


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    frames: int | None = None,
    example_frames: int = 4,
    height: int = 256,
    width: int = 128,
    max_batch: int = 1024,
) -> Path:
    """Write ``model`` as ONNX with a dynamic batch and, unless ``frames`` fixes it, a dynamic
    frame count.

    The graph takes ``clip`` ``(N, 3, T, height, width)`` (normalised float32) and returns
    ``features`` ``(N, D)`` and ``logits`` ``(N, num_classes)``. STRF's masks are exported as the
    explicit matmul + softmax product.

    Args:
        model: the model (moved to the CPU and put in eval mode).
        path: the ``.onnx`` file to write (atomically).
        frames: ``T`` fixed in the graph; ``None``: any ``T`` from 1 to :data:`MAX_FRAMES`
            (traced with ``example_frames``).
        example_frames: the example's frame count when ``frames`` is ``None``.
        height, width: the frame size, fixed in the graph.
        max_batch: the largest batch declared.

    Returns:
        The written path.

    Raises:
        ValueError: a frame count below 1 (or above :data:`MAX_FRAMES` when dynamic).
    """
    dynamic = frames is None
    length = example_frames if dynamic else frames
    if length < 1 or (dynamic and length > MAX_FRAMES):
        what = f"example_frames must be 1 to {MAX_FRAMES}" if dynamic else "frames must be >= 1"
        raise ValueError(f"{what}, got {length}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    example = torch.randn(2, 3, length, height, width)
    axes = {0: torch.export.Dim("batch", min=1, max=max_batch)}
    if dynamic:
        axes[2] = torch.export.Dim("frames", min=1, max=MAX_FRAMES)
    program = torch.onnx.export(
        model,
        (example,),
        input_names=["clip"],
        output_names=["features", "logits"],
        dynamic_shapes={"clip": axes},
        dynamo=True,
        verbose=False,
    )
    with atomic_path(path) as tmp:
        program.save(str(tmp))
    return path

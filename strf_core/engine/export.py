"""Export a trained model to ONNX (features and logits for a batch of clips)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from strf_core.atomic import atomic_path


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    frames: int = 4,
    height: int = 256,
    width: int = 128,
    max_batch: int = 1024,
) -> Path:
    """Write ``model`` as ONNX with a dynamic batch dimension.

    The graph takes ``clip`` ``(N, 3, frames, height, width)`` (normalised float32) and returns
    ``features`` ``(N, D)`` and ``logits`` ``(N, num_classes)``. STRF's masks are exported as the
    explicit matmul + softmax product.

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    example = torch.randn(2, 3, frames, height, width)
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    program = torch.onnx.export(
        model,
        (example,),
        input_names=["clip"],
        output_names=["features", "logits"],
        dynamic_shapes={"clip": {0: batch}},
        dynamo=True,
        verbose=False,
    )
    with atomic_path(path) as tmp:
        program.save(str(tmp))
    return path

"""One tracklet in memory: its clip as the test loader reads it, and its embedding.

:func:`embed_clip` is the dense evaluation of :func:`strf_core.engine.evaluate.extract_features`
for a clip that is not on disk (a user's upload, an occluded copy): every frame, in chunks of
``chunk_len``, per-frame features averaged, then the BN neck. For a tracklet on disk,
``embed_clip(model, load_clip(tracklet, size))`` equals ``extract_features(model, [tracklet],
size=size)`` (the tests check it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from strf_core.data.pipeline import Decoder, read_frame
from strf_core.data.temporal import chunk_indices
from strf_core.data.tracklet import Tracklet
from strf_core.data.transforms import ClipTransform, normalize_clips


def load_clip(
    tracklet: Tracklet, size: tuple[int, int] = (256, 128), *, decoder: Decoder = "auto"
) -> Tensor:
    """Every frame of ``tracklet``, decoded and resized as the test loader does.

    Shape:
        ``(3, T, H, W)``, uint8.
    """
    if not tracklet.frames:
        raise ValueError(f"tracklet (pid {tracklet.pid}, camid {tracklet.camid}) has no frames")
    transform = ClipTransform(size=size, flip_p=0.0, normalize=False)
    return transform([read_frame(str(path), decoder) for path in tracklet.frames])


@torch.no_grad()
def embed_clip(model: nn.Module, clip: Tensor, *, chunk_len: int = 32) -> Tensor:
    """The post-BN embedding of one clip (dense evaluation).

    Args:
        model: a :class:`~strf_core.models.ResNet3D`; put in eval mode.
        clip: the frames, uint8 (or normalised float).
        chunk_len: frames per forward pass.

    Returns:
        The embedding, float32 on the CPU.

    Shape:
        clip: ``(3, T, H, W)``. Returns: ``(D,)``.
    """
    if clip.dim() != 4 or clip.shape[0] != 3 or clip.shape[1] == 0:
        raise ValueError(f"expected one clip (3, T, H, W) with T >= 1, got {tuple(clip.shape)}")
    model.eval()
    device = next(model.parameters()).device
    total = torch.zeros(model.feature_dim)
    for chunk in chunk_indices(clip.shape[1], chunk_len):
        part = clip[:, int(chunk[0]) : int(chunk[-1]) + 1].unsqueeze(0).to(device)
        part = normalize_clips(part) if part.dtype == torch.uint8 else part.float()
        total += model.frame_features(part).float().cpu()[0].sum(dim=0)  # (D,)
    mean = (total / clip.shape[1]).to(device)
    return model.forward_head(mean[None, None]).features[0].float().cpu()

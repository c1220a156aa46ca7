"""Tracklet embeddings: what the engine evaluates and retrieval searches (SPEC section 3).

Below both of them, it needs only a model (:class:`~strf_core.models.ReIDModel`) and the test
data pipeline::

    tracklets on disk --extract_features--> (N, D)   in batches, through the test loader
    one clip in memory --embed_clip-------> (D,)     a user's upload, an occluded copy

Two modes, named beside every number they produce:

- ``"dense"`` (the paper's): every frame of a tracklet, in consecutive chunks of ``chunk_len``
  frames; per-frame features averaged over all frames, then the BN neck.
- ``"clip"``: ``seq_len`` evenly spaced frames of each tracklet (cheaper, lower numbers).

For a tracklet on disk, ``embed_clip(model, load_clip(tracklet, size))`` equals
``extract_features(model, [tracklet], size=size)`` (the tests check it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from strf_core.data.pipeline import Decoder, build_test_loader, read_frame
from strf_core.data.temporal import chunk_indices
from strf_core.data.tracklet import Tracklet
from strf_core.data.transforms import ClipTransform, normalize_clips
from strf_core.models.interface import ReIDModel

MODES = ("dense", "clip")


def unwrap(model: nn.Module) -> ReIDModel:
    """The model inside DistributedDataParallel or torch.compile wrappers."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


@torch.no_grad()
def extract_features(
    model: nn.Module,
    tracklets: Sequence[Tracklet],
    *,
    mode: str = "dense",
    chunk_len: int = 32,
    seq_len: int = 4,
    size: tuple[int, int] = (256, 128),
    batch_size: int = 8,
    workers: int | None = None,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    progress: bool = False,
) -> Tensor:
    """Embed every tracklet: per-frame features averaged, then the BN neck.

    Args:
        model: a :class:`~strf_core.models.ReIDModel` (or a DDP / compiled wrapper of one); put
            in eval mode.
        tracklets: the query or gallery split.
        mode: ``"dense"`` (every frame, chunks of ``chunk_len``) or ``"clip"`` (``seq_len``
            evenly spaced frames).
        chunk_len: frames per chunk in dense mode.
        seq_len: frames per tracklet in clip mode.
        size: frame ``(H, W)`` the model sees.
        batch_size: chunks per forward pass.
        workers: DataLoader workers (``None``: as many as the machine has cores, up to 8).
        device: where the model runs; features are accumulated on the CPU.
        autocast: bf16 autocast (CUDA).
        progress: show a progress bar.

    Returns:
        Post-BN embeddings, float32 on the CPU.

    Shape:
        Returns ``(len(tracklets), D)``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    net = unwrap(model)
    net.eval()
    device = torch.device(device)
    loader = build_test_loader(
        tracklets,
        sampling="chunks" if mode == "dense" else "even",
        chunk_len=chunk_len,
        seq_len=seq_len,
        size=size,
        batch_size=batch_size,
        normalize=False,  # uint8 out of the workers, normalised on the device
        workers=workers,
    )
    sums = torch.zeros(len(tracklets), net.feature_dim)
    counts = torch.zeros(len(tracklets))
    if progress:
        from tqdm.auto import tqdm

        loader = tqdm(loader, desc=f"features ({mode})", unit="batch", leave=False)
    for batch in loader:
        clips = normalize_clips(batch.clip.to(device, non_blocking=True))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            frames = net.frame_features(clips).float().cpu()  # (B, T, D)
        sums.index_add_(0, batch.tracklet, frames.sum(dim=1))
        counts.index_add_(0, batch.tracklet, torch.full((len(frames),), float(frames.shape[1])))
    mean = sums / counts[:, None]  # every frame of a tracklet weighs the same
    features = [
        net.forward_head(part.to(device)[:, None]).features.float().cpu()
        for part in mean.split(1024)
    ]
    return torch.cat(features)


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
        model: a :class:`~strf_core.models.ReIDModel`; put in eval mode.
        clip: the frames, uint8 (or normalised float).
        chunk_len: frames per forward pass.

    Returns:
        The embedding, float32 on the CPU.

    Shape:
        clip: ``(3, T, H, W)``. Returns: ``(D,)``.
    """
    if clip.dim() != 4 or clip.shape[0] != 3 or clip.shape[1] == 0:
        raise ValueError(f"expected one clip (3, T, H, W) with T >= 1, got {tuple(clip.shape)}")
    net = unwrap(model)
    net.eval()
    device = next(net.parameters()).device
    total = torch.zeros(net.feature_dim)
    for chunk in chunk_indices(clip.shape[1], chunk_len):
        part = clip[:, int(chunk[0]) : int(chunk[-1]) + 1].unsqueeze(0).to(device)
        part = normalize_clips(part) if part.dtype == torch.uint8 else part.float()
        total += net.frame_features(part).float().cpu()[0].sum(dim=0)  # (D,)
    mean = (total / clip.shape[1]).to(device)
    return net.forward_head(mean[None, None]).features[0].float().cpu()

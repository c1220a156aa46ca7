"""From tracklets to batches: the dataset of clips and the train/test DataLoaders (SPEC section 3).

::

    Tracklet(frames, pid, camid)
      train: TrackletBatchSampler (data.sampler) -> P x K SampleKey(index, seed) per batch
             rng = default_rng(seed) -> train_clip_indices -> decode -> ClipTransform(draw, apply)
             -> TrainItem(clip (3, T, H, W), pid, camid)    batched: clip (N, 3, T, H, W)
      test:  "chunks": one item per chunk of chunk_len frames (every frame once)
             "even":   one item per tracklet, seq_len evenly spaced frames
             -> TestItem(clip (3, T, H, W), pid, camid, tracklet)

Reproducibility. Every random draw of a training clip (its frames, flip and erasing) comes from
one ``numpy`` generator seeded by the sampler's per-sample seed, so the batches depend only on the
sampler's seed and epoch: the same with 0, 1 or 8 workers, persistent or not, and no two workers
(or epochs) repeat a draw unless two 63-bit seeds collide. A plain ``int`` index still
works (any sampler): then the seed is drawn from torch's generator, which the DataLoader seeds
differently in every worker and epoch (``base_seed + worker_id``), so workers do not repeat
draws, but the batches then depend on the number of workers.

Decoding. ``decoder="auto"`` reads JPEG and PNG with ``torchvision.io.decode_image`` and other
formats with PIL, the faster of the two on JPEG (``bench/loader_speed.py`` measures both;
its numbers are in ``bench/results/`` and the README). torchvision 0.29
deprecates its image codecs in favour of TorchCodec; where they are gone, ``"auto"`` falls back
to PIL.

Output. Clips are normalised float32 by default. ``normalize=False`` gives uint8 clips to
normalise on the device (``normalize_clips``): a quarter of the bytes to move out of the workers
and collate, which makes the loader with workers markedly faster (``bench/loader_speed.py``).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from strf_core.data.samplers import IdentityBatchSampler, SampleKey, build_batch_sampler
from strf_core.data.temporal import chunk_indices, evenly_spaced_indices, train_clip_indices
from strf_core.data.tracklet import Tracklet
from strf_core.data.transforms import ClipTransform

Decoder = Literal["auto", "torchvision", "pil"]
DECODERS = ("auto", "torchvision", "pil")
MODES = ("train", "test")
TEST_SAMPLINGS = ("chunks", "even")
_TORCHVISION_SUFFIXES = {".jpg", ".jpeg", ".png"}


class FrameReadError(RuntimeError):
    """A frame file is missing or cannot be decoded; the message names the file and tracklet."""


class TrainItem(NamedTuple):
    """One training sample; a batch holds the same fields stacked.

    Attributes:
        clip: ``(3, T, H, W)`` float32 (batched: ``(N, 3, T, H, W)``).
        pid: identity label.
        camid: 0-based camera.
    """

    clip: Tensor
    pid: int
    camid: int


class TestItem(NamedTuple):
    """One test sample: a chunk of a tracklet, or its evenly spaced clip.

    Attributes:
        clip: ``(3, T, H, W)`` float32 (batched: ``(N, 3, T, H, W)``).
        pid: identity label.
        camid: 0-based camera.
        tracklet: index of the tracklet in the dataset's list, to gather a tracklet's chunks.
    """

    clip: Tensor
    pid: int
    camid: int
    tracklet: int

    __test__ = False  # not a pytest test class, whatever its name


@functools.cache
def _torchvision_decoder() -> Callable[[str], Tensor] | None:
    """torchvision's RGB file decoder, imported on first use; None in a torchvision without it.

    Importing torchvision imports ``torch._dynamo`` (about 3 s of CPU here); a process that
    decodes with PIL only (the dashboard's few frames) does without it.
    """
    try:
        from torchvision.io import ImageReadMode, decode_image
    except ImportError:  # a torchvision without its deprecated image codecs
        return None
    return functools.partial(decode_image, mode=ImageReadMode.RGB)


def read_frame(path: str, decoder: Decoder = "auto") -> Tensor:
    """Decode one image file to RGB.

    Args:
        path: image file.
        decoder: ``"torchvision"`` (JPEG, PNG, WebP, GIF), ``"pil"`` (anything PIL reads) or
            ``"auto"`` (torchvision for JPEG and PNG where it has a decoder, PIL otherwise).

    Returns:
        The image, grayscale and RGBA files converted to RGB.

    Shape:
        ``(3, H, W)``, uint8.
    """
    if decoder == "auto":
        suffix = Path(path).suffix.lower()
        use_torchvision = suffix in _TORCHVISION_SUFFIXES and _torchvision_decoder() is not None
        decoder = "torchvision" if use_torchvision else "pil"
    if decoder == "torchvision":
        decode = _torchvision_decoder()
        if decode is None:
            raise ValueError("this torchvision has no image decoder: use decoder='pil'")
        with warnings.catch_warnings():
            # torchvision 0.29 deprecates its image codecs in favour of TorchCodec, on every call.
            warnings.simplefilter("ignore", DeprecationWarning)
            return decode(path)
    if decoder == "pil":
        with Image.open(path) as image:
            if image.mode != "RGB":
                image = image.convert("RGB")
            array = np.array(image)  # (H, W, 3), a writable copy
        return torch.from_numpy(array).permute(2, 0, 1)
    raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")


class ClipDataset(Dataset):
    """Clips of tracklets for training or testing.

    Args:
        tracklets: the split, e.g. ``dataset.train``.
        mode: ``"train"`` (one random clip per tracklet and access) or ``"test"``.
        seq_len: frames per training clip, and per ``"even"`` test clip.
        stride: frame step of training clips from long tracklets.
        test_sampling: ``"chunks"`` (every frame, in consecutive chunks of ``chunk_len``: one
            item per chunk) or ``"even"`` (``seq_len`` evenly spaced frames: one item per
            tracklet).
        chunk_len: frames per test chunk (the last chunk of a tracklet holds the remainder).
        size: output ``(H, W)``.
        erase_p: probability of random erasing in training (0: off).
        normalize: return normalised float32 clips; ``False`` returns uint8 clips to normalise
            on the device with :func:`~strf_core.data.transforms.normalize_clips`.
        decoder: see :func:`read_frame`.
        transform: replaces the default transform (train: flip 0.5, ``erase_p``; test: none).

    Raises:
        ValueError: an empty split, a tracklet without frames, or an unknown option.
        FrameReadError: (on access) a frame that cannot be read; names the file and tracklet.

    Shape:
        item clip: ``(3, T, H, W)`` float32 (or uint8), ``T = seq_len`` or the chunk's length.
    """

    def __init__(
        self,
        tracklets: Sequence[Tracklet],
        *,
        mode: Literal["train", "test"] = "train",
        seq_len: int = 4,
        stride: int = 8,
        test_sampling: Literal["chunks", "even"] = "chunks",
        chunk_len: int = 32,
        size: tuple[int, int] = (256, 128),
        erase_p: float = 0.0,
        normalize: bool = True,
        decoder: Decoder = "auto",
        transform: ClipTransform | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if test_sampling not in TEST_SAMPLINGS:
            raise ValueError(
                f"test_sampling must be one of {TEST_SAMPLINGS}, got {test_sampling!r}"
            )
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        for name, value in (("seq_len", seq_len), ("stride", stride), ("chunk_len", chunk_len)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if len(tracklets) == 0:
            raise ValueError("no tracklets: the split is empty")
        for index, tracklet in enumerate(tracklets):
            if len(tracklet.frames) == 0:
                raise ValueError(
                    f"tracklet {index} (pid {tracklet.pid}, camid {tracklet.camid}) has no frames"
                )
        self.tracklets = list(tracklets)
        self.mode, self.test_sampling = mode, test_sampling
        self.seq_len, self.stride, self.chunk_len = seq_len, stride, chunk_len
        self.decoder = decoder
        if transform is None:
            train = mode == "train"
            transform = ClipTransform(
                size=size,
                flip_p=0.5 if train else 0.0,
                erase_p=erase_p if train else 0.0,
                normalize=normalize,
            )
        self.transform = transform
        # Test chunks are items of their own: (tracklet, first frame, end frame).
        self._chunked = mode == "test" and test_sampling == "chunks"
        self._chunks: list[tuple[int, int, int]] = []
        if self._chunked:
            for index, tracklet in enumerate(self.tracklets):
                for chunk in chunk_indices(len(tracklet.frames), chunk_len):
                    self._chunks.append((index, int(chunk[0]), int(chunk[-1]) + 1))

    def __len__(self) -> int:
        return len(self._chunks) if self._chunked else len(self.tracklets)

    def chunk_lengths(self) -> list[int]:
        """Frames of each item (equal to ``seq_len`` except for ``"chunks"`` test items)."""
        if self._chunked:
            return [end - start for _, start, end in self._chunks]
        return [self.seq_len] * len(self)

    def __getitem__(self, key: int | SampleKey) -> TrainItem | TestItem:
        if self.mode == "test":
            index = int(key.index if isinstance(key, SampleKey) else key)
            return self._test_item(index)
        if isinstance(key, SampleKey):
            index, seed = key
        else:
            # No seed from the sampler: take one from torch's generator, which the DataLoader
            # seeds per worker and epoch, so workers do not repeat each other's draws.
            index, seed = int(key), int(torch.randint(2**62, ()).item())
        rng = np.random.default_rng(seed)
        tracklet = self.tracklets[index]
        frame_ids = train_clip_indices(
            len(tracklet.frames), rng, seq_len=self.seq_len, stride=self.stride
        )
        clip = self.transform(self._read(index, frame_ids), rng)
        return TrainItem(clip, tracklet.pid, tracklet.camid)

    def _test_item(self, index: int) -> TestItem:
        if self._chunked:
            tracklet_index, start, end = self._chunks[index]
            frame_ids = np.arange(start, end)
        else:
            tracklet_index = index
            num_frames = len(self.tracklets[index].frames)
            frame_ids = evenly_spaced_indices(num_frames, self.seq_len)
        tracklet = self.tracklets[tracklet_index]
        clip = self.transform(
            self._read(tracklet_index, frame_ids),
            # A test transform draws nothing, but a custom random one still gets a fixed rng.
            np.random.default_rng(index) if self.transform.is_random else None,
        )
        return TestItem(clip, tracklet.pid, tracklet.camid, tracklet_index)

    def _read(self, index: int, frame_ids: np.ndarray) -> list[Tensor]:
        """Decode the frames ``frame_ids`` of tracklet ``index``, each file once."""
        tracklet = self.tracklets[index]
        decoded: dict[int, Tensor] = {}
        for j in frame_ids.tolist():
            if j in decoded:
                continue  # frames drawn with replacement repeat
            path = tracklet.frames[j]
            try:
                decoded[j] = read_frame(path, self.decoder)
            except (OSError, RuntimeError, ValueError) as err:
                raise FrameReadError(
                    f"cannot read frame {path!r} (frame {j} of {len(tracklet.frames)} of "
                    f"tracklet {index}: pid {tracklet.pid}, camid {tracklet.camid}): {err}"
                ) from err
        return [decoded[j] for j in frame_ids.tolist()]


def equal_length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of at most ``batch_size`` items of the same length, longest first.

    Test chunks of different lengths cannot share a batch without padding, and padding frames
    would change what the temporal layers see; grouping keeps every chunk exact.

    Args:
        lengths: frames of each item.
        batch_size: items per batch.

    Returns:
        Item indices per batch; every index appears once, in dataset order within a length.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    by_length: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        by_length.setdefault(length, []).append(index)
    return [
        items[i : i + batch_size]
        for _, items in sorted(by_length.items(), reverse=True)
        for i in range(0, len(items), batch_size)
    ]


def default_workers() -> int:
    """CPU cores this process may use, at most 8 (decoding rarely needs more for one GPU)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(8, cores)


def build_train_loader(
    tracklets: Sequence[Tracklet],
    *,
    batch_p: int = 8,
    batch_k: int = 4,
    seq_len: int = 4,
    stride: int = 8,
    size: tuple[int, int] = (256, 128),
    erase_p: float = 0.0,
    normalize: bool = True,
    workers: int | None = None,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    decoder: Decoder = "auto",
    pin_memory: bool | None = None,
    sampler: str = "tracklet",
    lookalike_groups: Sequence[int | None] | None = None,
) -> DataLoader:
    """The training DataLoader of SPEC section 3: P x K batches of ``seq_len``-frame clips.

    Each pass over the loader is one epoch (``sampler``: every tracklet once, AP3D's, or every
    identity once); the sampler,
    ``loader.batch_sampler``, moves on to the next epoch by itself or takes ``set_epoch``.

    Args:
        tracklets: the training split (pids relabelled ``0..N-1``).
        batch_p: identities per batch.
        batch_k: tracklets per identity.
        seq_len: frames per clip.
        stride: frame step of long tracklets.
        size: clip ``(H, W)``.
        erase_p: probability of random erasing (0: off, as in the paper).
        normalize: ``False`` gives uint8 clips, for ``normalize_clips`` on the device (faster
            on few CPU cores: see ``bench/loader_speed.py``).
        workers: DataLoader worker processes (``None``: :func:`default_workers`).
        seed: seed of the whole run's batches and augmentations.
        rank: this process's rank in distributed training.
        world_size: number of processes.
        decoder: see :func:`read_frame`.
        pin_memory: ``None`` pins when CUDA is available.
        sampler: ``"tracklet"`` (AP3D's epoch), ``"identity"`` or ``"lookalike"``
            (:func:`~strf_core.data.samplers.build_batch_sampler`).
        lookalike_groups: with ``sampler="lookalike"``, the look-alike group of each tracklet
            (``None``: in none; synthetic data only, real data has no such labels).

    Returns:
        A DataLoader of :class:`TrainItem` batches, clip ``(P*K, 3, seq_len, H, W)``.
    """
    dataset = ClipDataset(
        tracklets,
        mode="train",
        seq_len=seq_len,
        stride=stride,
        size=size,
        erase_p=erase_p,
        normalize=normalize,
        decoder=decoder,
    )
    pids = [t.pid for t in dataset.tracklets]
    kwargs = dict(
        batch_p=batch_p,
        batch_k=batch_k,
        seed=seed,
        rank=rank,
        world_size=world_size,
        with_seeds=True,
    )
    batches = build_batch_sampler(sampler, pids, lookalike_groups=lookalike_groups, **kwargs)
    return _loader(dataset, batches, workers, pin_memory, seed=seed, persistent=True)


def build_test_loader(
    tracklets: Sequence[Tracklet],
    *,
    sampling: Literal["chunks", "even"] = "chunks",
    chunk_len: int = 32,
    seq_len: int = 4,
    size: tuple[int, int] = (256, 128),
    batch_size: int = 8,
    normalize: bool = True,
    workers: int | None = None,
    decoder: Decoder = "auto",
    pin_memory: bool | None = None,
) -> DataLoader:
    """The test DataLoader: every frame in chunks, or ``seq_len`` evenly spaced frames.

    With ``"chunks"`` a batch holds up to ``batch_size`` chunks of one length (see
    :func:`equal_length_batches`) from any tracklets; gather per-frame features by
    ``batch.tracklet``. A sketch of the all-frames evaluation of SPEC section 3::

        sums = torch.zeros(len(tracklets), model.feature_dim)
        counts = torch.zeros(len(tracklets))
        for batch in loader:  # model.eval(), under torch.no_grad()
            frames = model.frame_features(batch.clip)  # (N, T, D)
            sums.index_add_(0, batch.tracklet, frames.sum(1))
            counts.index_add_(0, batch.tracklet, torch.full((len(frames),), frames.shape[1] * 1.0))
        mean = sums / counts[:, None]  # every frame of a tracklet weighs the same
        features = model.forward_head(mean[:, None]).features  # BN neck on (N, 1, D)

    Args:
        tracklets: the query or gallery split.
        sampling: ``"chunks"`` or ``"even"``.
        chunk_len: frames per chunk.
        seq_len: frames of an ``"even"`` clip.
        size: clip ``(H, W)``.
        batch_size: chunks (or clips) per batch.
        normalize: ``False`` gives uint8 clips, for ``normalize_clips`` on the device.
        workers: DataLoader worker processes (``None``: :func:`default_workers`).
        decoder: see :func:`read_frame`.
        pin_memory: ``None`` pins when CUDA is available.

    Returns:
        A DataLoader of :class:`TestItem` batches in a fixed order.
    """
    dataset = ClipDataset(
        tracklets,
        mode="test",
        seq_len=seq_len,
        test_sampling=sampling,
        chunk_len=chunk_len,
        size=size,
        normalize=normalize,
        decoder=decoder,
    )
    batches = equal_length_batches(dataset.chunk_lengths(), batch_size)
    # Test loaders run now and then: idle workers between two evaluations would only hold memory.
    return _loader(dataset, batches, workers, pin_memory, seed=0, persistent=False)


def _loader(
    dataset: ClipDataset,
    batch_sampler: IdentityBatchSampler | list[list[int]],
    workers: int | None,
    pin_memory: bool | None,
    *,
    seed: int,
    persistent: bool,
) -> DataLoader:
    workers = default_workers() if workers is None else workers
    return DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=workers,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        # Keep training workers between epochs: restarting them costs time every epoch.
        persistent_workers=persistent and workers > 0,
        # Seeds the workers' torch/numpy/random state: only plain-int indices would use it.
        generator=torch.Generator().manual_seed(seed),
    )

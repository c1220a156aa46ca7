"""The dataset and loaders end to end on tiny JPEG tracklets written here.

Every frame is one flat colour that encodes where it comes from (red: tracklet, green: frame
number), which JPEG keeps to within a level or two; so the frames a clip holds can be read back
off the pixels of an un-normalised (uint8) clip.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from strf_core.data.pipeline import (
    ClipDataset,
    FrameReadError,
    TestItem,
    TrainItem,
    build_test_loader,
    build_train_loader,
    equal_length_batches,
    read_frame,
)
from strf_core.data.samplers import SampleKey
from strf_core.data.tracklet import Tracklet

SIZE = (16, 8)
# (pid, camid, frames) per tracklet: 5 identities, long (>= 32) and short ones, one of 2 frames.
LAYOUT = [(0, 0, 40), (0, 1, 9), (1, 0, 33), (1, 2, 2), (2, 1, 12), (3, 0, 50), (3, 1, 5)]
LAYOUT += [(4, 0, 20), (4, 1, 36)]


def _colour(tracklet: int, frame: int) -> tuple[int, int, int]:
    return (20 * tracklet + 10, 4 * frame + 10, 128)


@pytest.fixture(scope="module")
def tracklets(tmp_path_factory) -> list[Tracklet]:
    root = tmp_path_factory.mktemp("tracklets")
    out = []
    for t, (pid, camid, length) in enumerate(LAYOUT):
        paths = []
        for f in range(length):
            path = root / f"{pid:04d}C{camid + 1}T{t:04d}F{f:03d}.jpg"
            Image.new("RGB", (SIZE[1], SIZE[0]), _colour(t, f)).save(path, quality=95)
            paths.append(str(path))
        out.append(Tracklet(tuple(paths), pid, camid))
    return out


def _decode(clip: torch.Tensor) -> tuple[int, list[int]]:
    """(tracklet, frame numbers) of a uint8 clip (3, T, H, W) of flat frames."""
    red, green = clip[0].float().mean((1, 2)), clip[1].float().mean((1, 2))
    tracklets = {round((r.item() - 10) / 20) for r in red}
    assert len(tracklets) == 1, "a clip mixes tracklets"
    return tracklets.pop(), [round((g.item() - 10) / 4) for g in green]


def _all_batches(loader, epochs=2):
    return [batch for _ in range(epochs) for batch in loader]


def test_train_batches_follow_the_recipe(tracklets):
    loader = build_train_loader(
        tracklets, batch_p=2, batch_k=3, size=SIZE, workers=0, seed=0, normalize=False
    )
    batches = _all_batches(loader, epochs=3)
    # AP3D's epoch: each of the 5 identities (2 tracklets at most) pads to one group of K = 3,
    # 5 groups // P=2 = 2 batches per epoch.
    assert len(batches) == 3 * 2
    for batch in batches:
        assert isinstance(batch, TrainItem)
        assert batch.clip.shape == (6, 3, 4, *SIZE) and batch.clip.dtype == torch.uint8
        assert batch.pid.tolist()[::3] != batch.pid.tolist()[3::3]
        for clip, pid, camid in zip(batch.clip, batch.pid, batch.camid, strict=True):
            t, frames = _decode(clip)
            assert (LAYOUT[t][0], LAYOUT[t][1]) == (pid.item(), camid.item())
            length = LAYOUT[t][2]
            if length >= 32:
                assert np.all(np.diff(frames) == 8)
            elif length >= 4:
                assert np.all(np.diff(frames) > 0)
            else:
                assert np.all(np.diff(frames) >= 0) and max(frames) < length


def test_seeded_runs_are_identical_with_0_and_2_workers(tracklets):
    runs = []
    for workers in (0, 2, 0):
        loader = build_train_loader(
            tracklets, batch_p=2, batch_k=2, size=SIZE, workers=workers, seed=3, erase_p=0.5
        )
        runs.append(_all_batches(loader, epochs=2))
    for batches in runs[1:]:
        assert len(batches) == len(runs[0])
        for a, b in zip(runs[0], batches, strict=True):
            assert torch.equal(a.clip, b.clip) and torch.equal(a.pid, b.pid)
            assert torch.equal(a.camid, b.camid)
    # two epochs differ, and another seed differs
    assert not torch.equal(runs[0][0].clip, runs[0][3].clip)
    other = build_train_loader(tracklets, batch_p=2, batch_k=2, size=SIZE, workers=0, seed=4)
    assert not torch.equal(next(iter(other)).clip, runs[0][0].clip)


def test_a_run_resumed_mid_epoch_sees_the_same_clips(tracklets):
    def loader(workers):
        return build_train_loader(
            tracklets, batch_p=2, batch_k=2, size=SIZE, workers=workers, seed=5, erase_p=0.5
        )

    full = _all_batches(loader(0), epochs=2)  # 3 batches per epoch
    resumed = loader(2)
    resumed.batch_sampler.set_epoch(0, start_batch=2)
    tail = _all_batches(resumed, epochs=2)
    assert len(tail) == len(full) - 2
    for a, b in zip(full[2:], tail, strict=True):
        assert torch.equal(a.clip, b.clip) and torch.equal(a.pid, b.pid)


def test_a_sample_key_fixes_the_clip_and_a_plain_index_still_works(tracklets):
    dataset = ClipDataset(tracklets, size=SIZE, erase_p=0.5)
    a, b = dataset[SampleKey(5, 123)], dataset[SampleKey(5, 123)]
    assert torch.equal(a.clip, b.clip) and a.pid == 3 and a.camid == 0
    item = dataset[0]
    assert item.clip.shape == (3, 4, *SIZE) and item.clip.dtype == torch.float32


def test_chunked_test_loader_gives_every_frame_exactly_once(tracklets):
    loader = build_test_loader(
        tracklets, chunk_len=8, batch_size=3, size=SIZE, workers=0, normalize=False
    )
    seen: dict[int, list[int]] = {}
    for batch in loader:
        assert isinstance(batch, TestItem)
        assert batch.clip.shape[0] <= 3
        for clip, tracklet, pid in zip(batch.clip, batch.tracklet, batch.pid, strict=True):
            t, frames = _decode(clip)
            assert t == tracklet.item() and pid.item() == LAYOUT[t][0]
            seen.setdefault(t, []).extend(frames)
    assert {t: sorted(f) for t, f in seen.items()} == {
        t: list(range(length)) for t, (_, _, length) in enumerate(LAYOUT)
    }


def test_even_test_loader(tracklets):
    loader = build_test_loader(
        tracklets, sampling="even", seq_len=4, batch_size=4, size=SIZE, workers=0, normalize=False
    )
    order = []
    for batch in loader:
        assert batch.clip.shape[1:] == (3, 4, *SIZE)
        for clip, tracklet in zip(batch.clip, batch.tracklet, strict=True):
            t, frames = _decode(clip)
            length = LAYOUT[t][2]
            assert t == tracklet.item()
            assert frames == [(2 * i + 1) * length // 8 for i in range(4)]
            order.append(t)
    assert order == list(range(len(LAYOUT)))


def test_equal_length_batches():
    batches = equal_length_batches([32, 32, 5, 32, 7, 5, 32], batch_size=3)
    assert batches == [[0, 1, 3], [6], [4], [2, 5]]
    with pytest.raises(ValueError, match="batch_size"):
        equal_length_batches([1], 0)


def test_unreadable_frame_names_the_file_and_the_tracklet(tracklets, tmp_path):
    broken = tmp_path / "0002C2T0004F003.jpg"
    broken.write_bytes(b"not a jpeg")
    frames = list(tracklets[4].frames)
    frames[3] = str(broken)
    bad = [*tracklets[:4], Tracklet(tuple(frames), 2, 1)]
    dataset = ClipDataset(bad, mode="test", chunk_len=32, size=SIZE)
    with pytest.raises(FrameReadError, match=r"0002C2T0004F003\.jpg.*tracklet 4: pid 2, camid 1"):
        dataset[len(dataset) - 1]
    missing = Tracklet((str(tmp_path / "missing.jpg"),), 0, 0)
    with pytest.raises(FrameReadError, match=r"missing\.jpg.*tracklet 0"):
        ClipDataset([missing], mode="test", size=SIZE, decoder="pil")[0]


def test_bad_splits_and_options_say_what_is_wrong(tracklets):
    with pytest.raises(ValueError, match=r"tracklet 1 .*has no frames"):
        ClipDataset([tracklets[0], Tracklet((), 7, 0)])
    with pytest.raises(ValueError, match="empty"):
        ClipDataset([])
    with pytest.raises(ValueError, match="mode"):
        ClipDataset(tracklets, mode="val")
    with pytest.raises(ValueError, match=r"batch_p=8 .* only 5 identities"):
        build_train_loader(tracklets, batch_p=8, workers=0)


def test_decoders_agree_and_give_rgb(tmp_path):
    grey = tmp_path / "grey.png"
    Image.new("L", (6, 10), 77).save(grey)
    for decoder in ("auto", "torchvision", "pil"):
        image = read_frame(str(grey), decoder)
        assert image.shape == (3, 10, 6) and image.dtype == torch.uint8
        assert torch.all(image == 77)


def test_plain_indices_with_workers_do_not_repeat_draws_and_follow_the_loader_seed(tracklets):
    dataset = ClipDataset(tracklets, size=SIZE, normalize=False)

    def draws(seed):
        loader = DataLoader(
            dataset,
            sampler=[5] * 8,  # one 50-frame tracklet, 8 times: workers 0 and 1 take turns
            num_workers=2,
            generator=torch.Generator().manual_seed(seed),
        )
        return [_decode(batch.clip[0])[1] for batch in loader]

    first = draws(0)
    assert first[0::2] != first[1::2]  # worker 1 does not replay worker 0's draws
    assert draws(0) == first

"""Our loaders against torchreid's own video dataset classes on the same tiny trees.

Runs only where torchreid imports: the PyPI ``torchreid==0.2.5`` (module path
``torchreid.reid``) installs without dependencies but then needs opencv, gdown, tensorboard and
h5py it does not declare, so it is no dependency of ours; a source install of deep-person-reid
(``torchreid.data``) works too. test_datasets.py asserts the same splits written out by hand.

Same splits means: the same tracklets (as sets of frames), the same camids, and pids in
one-to-one correspondence. Frame order is not compared (ours is sorted, torchreid's ``glob`` order
is not), and torchreid drops the last frame of a Duke tracklet that starts at F0002.
"""

from __future__ import annotations

import importlib
import os

import pytest

from strf_core.data import writers
from strf_core.data.datasets import build_dataset


def _torchreid_video():
    for module in ("torchreid.reid.data.datasets.video", "torchreid.data.datasets.video"):
        try:
            return importlib.import_module(module)
        except Exception:  # missing undeclared dependencies raise ImportError and others
            continue
    return None


video = _torchreid_video()
pytestmark = pytest.mark.skipif(
    video is None,
    reason="torchreid is not importable (PyPI torchreid 0.2.5 needs undeclared opencv, gdown, "
    "tensorboard, h5py); test_datasets.py asserts the same splits explicitly",
)


def _theirs(cls, root, **kwargs):
    # VideoDataset insists on a transform; the splits do not depend on it.
    return cls(root=str(root), transform=lambda image: image, verbose=False, **kwargs)


def _assert_same_splits(ours, theirs, *, trim_f0002: bool = False) -> None:
    for split in ("train", "query", "gallery"):
        expected = {}
        for frames, pid, camid, *_ in getattr(theirs, split):
            expected[frozenset(frames), camid] = pid
        got = {}
        for t in ours.split(split):
            frames = t.frames
            if trim_f0002 and "F0002" in os.path.basename(frames[0]):
                frames = frames[:-1]  # torchreid looks for F0001..F{n} and misses F{n+1}
            got[frozenset(frames), t.camid] = t.pid
        assert got.keys() == expected.keys(), split
        assert len(got) == len(getattr(theirs, split)) == len(ours.split(split)), split
        pairs = {(expected[k], got[k]) for k in got}
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}), split


@pytest.mark.filterwarnings("ignore")
def test_mars_same_as_torchreid(tmp_path):
    writers.write_tiny_mars(tmp_path / "mars")
    _assert_same_splits(build_dataset("mars", tmp_path), _theirs(video.Mars, tmp_path))


@pytest.mark.filterwarnings("ignore")
def test_duke_same_as_torchreid(tmp_path):
    writers.write_tiny_duke(tmp_path / "dukemtmc-vidreid" / "DukeMTMC-VideoReID")
    theirs = _theirs(video.DukeMTMCVidReID, tmp_path)
    _assert_same_splits(build_dataset("dukemtmc_vid", tmp_path), theirs, trim_f0002=True)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("split_id", [0, 7])
def test_ilids_same_as_torchreid(tmp_path, split_id):
    writers.write_tiny_ilids(tmp_path / "ilids-vid")
    theirs = _theirs(video.iLIDSVID, tmp_path, split_id=split_id)
    _assert_same_splits(build_dataset("ilids_vid", tmp_path, split_id=split_id), theirs)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("split_id", [0, 7])
def test_prid_same_as_torchreid(tmp_path, split_id):
    writers.write_tiny_prid(tmp_path / "prid2011")
    theirs = _theirs(video.PRID2011, tmp_path, split_id=split_id)
    _assert_same_splits(build_dataset("prid2011", tmp_path, split_id=split_id), theirs)

"""Write the ready-to-upload example tracklets of ``sample_data/examples/``.

Picks test tracklets of the demo world (the world the shipped demo models record in their
``eval.json``; its test split is generated into the cache if absent) by their metadata: an
occluded one, two identities of one look-alike group and a misaligned one, and writes them as
frame folders (MARS frame names kept), the misaligned one also as a zip and the occluded one
also as an H.264 mp4 named after its tracklet (``occluded_<tracklet>.mp4``), so that an upload of
it is labelled like the frames::

    python bench/make_examples.py [--out sample_data/examples]
"""

from __future__ import annotations

import argparse
import shutil
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from strf_core.demo import demo_world
from strf_core.synth import load_metadata

FPS = 8  # a slow walk is easier to look at


def _frames(root: Path, name: str) -> list[Path]:
    return sorted((root / "bbox_test" / name[:4]).glob(f"{name}F*.jpg"))


def _pick(tracklets: list[dict], subsets: list[str], min_frames: int = 16) -> dict:
    """The first query tracklet with exactly these subsets and enough frames."""
    return next(
        t
        for t in tracklets
        if t["query"] and t["subsets"] == subsets and t["num_frames"] >= min_frames
    )


def _copy(frames: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True)
    for frame in frames:
        shutil.copy2(frame, folder / frame.name)


def _video(frames: list[Path], path: Path) -> Path:
    """The frames as an H.264 mp4 (PyAV, a dependency of the package)."""
    import av

    images = [np.asarray(Image.open(f).convert("RGB")) for f in frames]
    height, width = images[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sample_data/examples")
    args = parser.parse_args()
    root = demo_world(progress=True)
    meta = load_metadata(root)
    test = [t for t in meta["tracklets"] if t["split"] == "test" and t["kind"] == "identity"]

    occluded = _pick(test, ["occluded"])
    misaligned = _pick(test, ["misaligned"])
    lookalike_a = _pick(test, ["lookalike"])
    # Another member of the same look-alike group: same clothes, another gait.
    lookalike_b = next(
        t
        for t in test
        if t["lookalike_group"] == lookalike_a["lookalike_group"]
        and t["pid"] != lookalike_a["pid"]
        and t["num_frames"] >= 16
    )

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    for name, record in (
        ("occluded", occluded),
        ("lookalike_a", lookalike_a),
        ("lookalike_b", lookalike_b),
        ("misaligned", misaligned),
    ):
        _copy(_frames(root, record["name"]), out / name)
        print(f"{out / name}: {record['name']} ({record['num_frames']} frames)")
    with zipfile.ZipFile(out / "misaligned.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for frame in sorted((out / "misaligned").iterdir()):
            zf.write(frame, frame.name)
    # The tracklet name at the end of the stem labels it (strf_core.data.user_labels).
    print(_video(_frames(root, occluded["name"]), out / f"occluded_{occluded['name']}.mp4"))


if __name__ == "__main__":
    main()

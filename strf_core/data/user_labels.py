"""What an upload's names and bytes say about who it is: MARS labels, and gallery duplicates.

::

    name_labels(sources)             -> NameLabels(pid, camid, tracklet, problem)
    labels_from_names(sources)       -> (pid, camid) | None          (the labels alone)
    against_gallery(labels, pids)    -> the labels, or a problem when the gallery lacks the pid
    GalleryFrames(tracklets).same_tracklet(digests, tracklet_name) -> gallery index | None

Labels mean what they mean in evaluation (:func:`strf_core.retrieval.gallery.hit_kind`): a
query is one identity (pid 1-9999) seen by one camera (1-6 in MARS). Names that look like MARS
names but cannot give such labels are not guessed at: ``problem`` says why, and the upload is
ranked unlabelled. Pid ``0000`` marks a MARS distractor (a box holding no person of the
dataset) and ``00-1`` junk; neither is an identity with true matches, so neither labels a query.

Frame names: ``PPPPCcTttttFfff`` with any image suffix (``0159C3T0001F001.jpg``, ``.png`` after
a conversion). A video or GIF carries its tracklet name at the end of its stem:
``0159C3T0001.mp4`` or ``occluded_0159C3T0001.mp4``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from strf_core.data.tracklet import Tracklet

MARS_CAMERAS = range(1, 7)
# Looser than the loader's pattern on purpose: whatever looks like a MARS name is read, so that
# a wrong camera or pid is reported rather than silently ignored.
FRAME_STEM = re.compile(r"^(\d{4}|00-1)C(\d+)T(\d{4})F(\d+)$")
VIDEO_STEM = re.compile(r"(?:^|[_\- .])(\d{4}|00-1)C(\d+)T(\d{4})$")


@dataclass(frozen=True)
class NameLabels:
    """What an upload's file names say about it.

    Attributes:
        pid: the identity (``None``: unlabelled).
        camid: the 0-based camera (``None``: unlabelled).
        tracklet: the MARS tracklet name, ``"0159C3T0001"``, when every name gives the same one.
        problem: why names that look like MARS names give no labels (``None``: no problem).
    """

    pid: int | None = None
    camid: int | None = None
    tracklet: str | None = None
    problem: str | None = None

    @property
    def labelled(self) -> bool:
        return self.pid is not None


def _file_name(source: str) -> str:
    """``"a.zip:q/x.jpg" -> "x.jpg"``, ``"clip.mp4#3" -> "clip.mp4"``, a path -> its name."""
    name = re.sub(r"#\d+$", "", source).rsplit(":", 1)[-1]
    return PurePosixPath(name.replace("\\", "/")).name


def _parse(name: str) -> tuple[str, int, int] | None:
    """``(pid text, camera, tracklet)`` of a name that looks like a MARS name, else ``None``."""
    stem = Path(name).stem
    match = FRAME_STEM.match(stem) or VIDEO_STEM.search(stem)
    if match is None:
        return None
    return match.group(1), int(match.group(2)), int(match.group(3))


def name_labels(sources: Sequence[str]) -> NameLabels:
    """The labels MARS-style names give an upload, or why they give none.

    Args:
        sources: where each frame came from (:attr:`UserTracklet.sources`: file names,
            ``archive.zip:member``, ``video.mp4#index``).
    """
    names = sorted({_file_name(s) for s in sources})
    parsed = {name: _parse(name) for name in names}
    mars = {name: p for name, p in parsed.items() if p is not None}
    if not mars:
        return NameLabels()
    if len(mars) < len(names):
        other = next(name for name in names if parsed[name] is None)
        return NameLabels(
            problem=f"{len(mars)} of {len(names)} file names are MARS names, others are not "
            f"(e.g. {other}): one tracklet's frames share one name scheme"
        )
    for name, (pid_text, camera, _) in sorted(mars.items()):
        if camera not in MARS_CAMERAS:
            return NameLabels(
                problem=f"{name} names camera {camera}; MARS cameras are 1-6, so the name "
                "does not say which camera filmed it"
            )
        if pid_text == "0000":
            return NameLabels(
                problem=f"{name} has pid 0000, MARS's mark for a distractor (a box holding no "
                "person of the dataset): it has no identity, so no true match"
            )
        if pid_text == "00-1":
            return NameLabels(
                problem=f"{name} has pid 00-1, MARS's mark for junk (a box its labellers "
                "could not use): it has no identity, so no true match"
            )
    people = sorted({(p[0], p[1]) for p in mars.values()})
    if len(people) > 1:
        shown = ", ".join(f"id {pid} camera {camera}" for pid, camera in people[:3])
        more = f" and {len(people) - 3} more" if len(people) > 3 else ""
        return NameLabels(
            problem=f"the names mix {len(people)} identity-camera pairs ({shown}{more}); a "
            "tracklet is one person seen by one camera"
        )
    pid_text, camera = people[0]
    tracklets = {f"{p[0]}C{p[1]}T{p[2]:04d}" for p in mars.values()}
    tracklet = tracklets.pop() if len(tracklets) == 1 else None
    return NameLabels(int(pid_text), camera - 1, tracklet)


def labels_from_names(sources: Sequence[str]) -> tuple[int, int] | None:
    """The ``(pid, camid)`` of frames named as MARS names them (``0159C3T0001F001.jpg``), when
    they label one query; ``None`` otherwise (:func:`name_labels` says why). ``camid`` is
    0-based, as the loaders give it.

    Lets a tracklet taken out of a MARS-layout dataset (the examples in ``sample_data/``) be
    ranked with its true matches marked.
    """
    labels = name_labels(sources)
    return (labels.pid, labels.camid) if labels.labelled else None


def against_gallery(labels: NameLabels, pids: Sequence[int]) -> NameLabels:
    """``labels``, or unlabelled with a problem when the gallery holds no tracklet of the pid
    (another dataset's id: none of its hits could be a true match, and no AP exists)."""
    if not labels.labelled or labels.pid in set(int(p) for p in pids):
        return labels
    return NameLabels(
        tracklet=labels.tracklet,
        problem=f"the names say id {labels.pid}, which this gallery does not hold (another "
        "dataset's id?): no hit could be a true match",
    )


def digest(data: bytes) -> tuple[int, str]:
    """``(size, sha1)`` of a file's bytes: what :class:`GalleryFrames` compares."""
    return len(data), hashlib.sha1(data).hexdigest()


class GalleryFrames:
    """Finds the gallery tracklet an upload duplicates: by its frames' bytes, or by name.

    Sizes of the gallery's frame files are read once (one ``stat`` each); only frames of the
    same size as an uploaded one are ever read and hashed.

    Args:
        tracklets: the gallery's tracklets.
    """

    def __init__(self, tracklets: Sequence[Tracklet]) -> None:
        self.tracklets = list(tracklets)
        self._by_size: dict[int, list[tuple[str, int]]] | None = None
        self._hashes: dict[str, str] = {}
        self._by_name = {}
        for index, tracklet in enumerate(self.tracklets):
            if tracklet.frames:
                parsed = _parse(Path(tracklet.frames[0]).name)
                if parsed is not None:
                    self._by_name.setdefault(f"{parsed[0]}C{parsed[1]}T{parsed[2]:04d}", index)

    def _sizes(self) -> dict[int, list[tuple[str, int]]]:
        if self._by_size is None:
            by_size: dict[int, list[tuple[str, int]]] = {}
            for index, tracklet in enumerate(self.tracklets):
                for frame in tracklet.frames:
                    try:
                        size = os.stat(frame).st_size
                    except OSError:
                        continue
                    by_size.setdefault(size, []).append((frame, index))
            self._by_size = by_size
        return self._by_size

    def _sha1(self, path: str) -> str:
        if path not in self._hashes:
            with open(path, "rb") as f:
                self._hashes[path] = hashlib.sha1(f.read()).hexdigest()
        return self._hashes[path]

    def by_bytes(self, digests: Sequence[tuple[int, str]]) -> int | None:
        """The gallery tracklet holding every uploaded frame byte for byte, else ``None``."""
        if not digests:
            return None
        common: set[int] | None = None
        for size, sha1 in digests:
            found = {
                index
                for path, index in self._sizes().get(size, [])
                if (common is None or index in common) and self._sha1(path) == sha1
            }
            common = found if common is None else common & found
            if not common:
                return None
        return min(common)

    def by_name(self, tracklet: str | None) -> int | None:
        """The gallery tracklet of this MARS tracklet name (``"0159C3T0001"``), else ``None``."""
        return None if tracklet is None else self._by_name.get(tracklet)

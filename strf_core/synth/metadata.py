"""The synthetic world's metadata, written beside the MARS tree and read back: the
generator's knowledge that no real dataset has (who looks alike, which tracklets are occluded).

``ROOT/synthetic_meta.json`` (:data:`META_NAME`), written last::

    {"format": "strf-synthetic-mars", "version": 1,
     "generator": {"preset", "seed", "size": [H, W], "fps", "jpeg_quality", "config", "counts",
                   "masks": "masks" (per-frame person and occluder masks: ground_truth.py),
                   "splits": ["train", "test"] or ["test"] (the splits drawn; absent in
                   worlds written before it: both)},
     "cameras": [{"camera": 1-6, "directions_deg", ...CameraLook fields}],
     "identities": [{"pid", "split", "lookalike_group", "appearance": {...}, "gait": {...}}]
                   (sorted by pid),
     "lookalike_groups": [{"group", "split", "pids"}],
     "tracklets": [{"split", "row" (1-based row of track_<split>_info), "name" ("0003C2T0001"),
                    "pid", "camera", "num_frames", "kind" (identity|distractor|junk), "query",
                    "subsets" (lookalike|occluded|misaligned), "lookalike_group",
                    "gait" (this tracklet's, with its small jitter; null: nobody in the box),
                    "view_deg" (walking direction, walker.py: 0 right, 90 away, -90 towards),
                    "misalignment": {"shift", "scale_drift", "jitter"},
                    "occluder": null | {"kind", "frames": [first, last] (0-based, drawn),
                                        "scale", "drop"},
                    "occluded_fraction": [per frame: share of the walker's visible pixels
                                          the occluder covers, 0 when none]}]}
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from strf_core.data.datasets.synthetic import (
    META_NAME,
    SPLIT_CHOICES,
    load_metadata,
    lookalike_groups,
    subset_masks,
)
from strf_core.data.writers.mars import SplitLayout
from strf_core.synth.ground_truth import MASKS_DIR
from strf_core.synth.plan import World, WorldConfig
from strf_core.synth.specs import FPS, Gait

# The reader side (META_NAME, load_metadata, subset_masks, lookalike_groups) lives with the
# datasets, which read worlds without importing the generator; re-exported here.
__all__ = [
    "META_NAME",
    "SPLIT_CHOICES",
    "load_metadata",
    "lookalike_groups",
    "subset_masks",
    "world_metadata",
    "write_metadata",
]


def write_metadata(path: Path, payload: dict) -> None:
    """Valid JSON with one list entry (a tracklet, an identity) a line: compact and greppable.

    Written in place: :func:`~strf_core.synth.generator.generate` writes the whole tree in a
    temporary folder and renames it into place, so the file is never seen half-written.
    """
    parts = []
    for key, value in payload.items():
        if isinstance(value, list):
            body = ",\n".join("  " + json.dumps(item) for item in value)
            parts.append(f" {json.dumps(key)}: [\n{body}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n")


def _gait_dict(gait: Gait) -> dict[str, float]:
    return asdict(gait)


def world_metadata(
    world: World,
    layouts: dict[str, SplitLayout],
    fractions: list[list[float]],
    size: tuple[int, int],
    preset: str | WorldConfig,
    *,
    splits: tuple[str, ...] = ("train", "test"),
) -> dict:
    """The metadata of a written world (module docstring).

    Args:
        world: the planned world.
        layouts: where each split's tracklets went in the MARS tree.
        fractions: each drawn tracklet's occluded fraction per frame, train then test.
        size: frame ``(height, width)``.
        preset: the preset name, or the config of a custom world.
        splits: the splits drawn; only their tracklets are recorded.
    """
    by_split = {s: world.split(s) if s in splits else [] for s in ("train", "test")}
    job = 0
    records = []
    frames = 0
    for split in ("train", "test"):
        layout = layouts[split]
        for i, t in enumerate(by_split[split]):
            spec = t.spec
            occ = spec.occluder
            first = layout.frame_names[i][0]
            records.append(
                {
                    "split": split,
                    "row": layout.rows[i] + 1,
                    "name": first[: first.rindex("F")],
                    "pid": t.pid,
                    "camera": t.camera,
                    "num_frames": spec.num_frames,
                    "kind": t.kind,
                    "query": t.query,
                    "subsets": list(t.subsets),
                    "lookalike_group": t.group,
                    "gait": _gait_dict(spec.gait) if spec.appearance is not None else None,
                    "view_deg": round(math.degrees(spec.view), 2),
                    "misalignment": {
                        "shift": list(spec.shift),
                        "scale_drift": spec.scale_drift,
                        "jitter": spec.jitter,
                    },
                    "occluder": None
                    if occ is None
                    else {
                        "kind": occ.kind,
                        "frames": [occ.start, occ.end],
                        "scale": occ.scale,
                        "drop": occ.drop,
                    },
                    "occluded_fraction": fractions[job],
                }
            )
            frames += spec.num_frames
            job += 1
    groups: dict[int, dict] = {}
    for identity in world.identities:
        if identity.group is not None:
            groups.setdefault(
                identity.group, {"group": identity.group, "split": identity.split, "pids": []}
            )
            groups[identity.group]["pids"].append(identity.pid)
    config = world.config
    return {
        "format": "strf-synthetic-mars",
        "version": 1,
        "generator": {
            "preset": preset if isinstance(preset, str) else "custom",
            "seed": world.seed,
            "size": list(size),
            "fps": FPS,
            "jpeg_quality": config.jpeg_quality,
            "masks": MASKS_DIR,
            "splits": list(splits),
            "config": asdict(config),
            "counts": {
                "identities": {"train": config.train_ids, "test": config.test_ids},
                "tracklets": {s: len(v) for s, v in by_split.items()},
                "queries": sum(t.query for t in by_split["test"]),
                "frames": frames,
            },
        },
        "cameras": [
            {
                "camera": c.index,
                "directions_deg": [round(math.degrees(d), 2) for d in c.directions],
                **asdict(c.look),
            }
            for c in world.cameras
        ],
        "identities": [
            {
                "pid": i.pid,
                "split": i.split,
                "lookalike_group": i.group,
                "appearance": asdict(i.appearance),
                "gait": _gait_dict(i.gait),
            }
            for i in sorted(world.identities, key=lambda i: i.pid)
        ],
        "lookalike_groups": [groups[g] for g in sorted(groups)],
        "tracklets": records,
    }

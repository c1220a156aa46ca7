"""The dashboard, headless (streamlit's AppTest): every page renders, toggles change the STRF
outputs, good and bad uploads give the result or the message expected."""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from strf_core.demo import MODELS_DIR, demo_dataset, demo_world, example_tracklets
from strf_core.engine.config import load_config
from strf_core.synth import generate, subset_masks

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app" / "main.py")
TIMEOUT = 600  # the first run generates the demo world and embeds its gallery (about 30 s)


@pytest.fixture(scope="module", autouse=True)
def app_environment(tmp_path_factory):
    """A private cache (demo world, embeddings) and no background embedding."""
    saved = {k: os.environ.get(k) for k in ("STRF_CACHE", "STRF_APP_PRECOMPUTE")}
    os.environ["STRF_CACHE"] = str(tmp_path_factory.mktemp("strf-cache"))
    os.environ["STRF_APP_PRECOMPUTE"] = "0"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    _assert_ok(at)
    return at


def _assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def _markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def _column_state(at: AppTest) -> tuple[list[str], list[str]]:
    """What the two model columns say: their match lines and their Grad-CAM captions."""
    matches = [m for m in _markdown(at) if m.startswith("First true match")]
    cams = [c for c in _captions(at) if c.startswith("Grad-CAM")]
    return matches, cams


def _strips(at: AppTest) -> list[list[str]]:
    """The ``t=`` labels of each frame strip, in page order (a strip: consecutive frames)."""
    strips: list[list[str]] = []
    previous = None
    for image in at.get("image"):
        labels = [c for c in image.captions if c.startswith("t=")]
        if not labels:
            previous = None
            continue
        t = int(labels[0][2:])
        if previous is None or t <= previous:
            strips.append([])
        strips[-1] += labels
        previous = t
    return strips


def test_page_icon_is_drawn_locally(monkeypatch):
    """A material-symbol page icon makes the browser fetch the favicon from fonts.gstatic.com;
    Streamlit's own favicon is served by the app (an emoji one would cost the first page 0.5 s,
    app/main.py). (The pages' navigation icons use the bundled font.)"""
    import streamlit

    config = {}
    monkeypatch.setattr(streamlit, "set_page_config", lambda **kwargs: config.update(kwargs))
    _page()
    assert config["page_title"] == "STRF Explorer"  # the call was seen
    assert "page_icon" not in config, config


def test_explore_renders_baseline_beside_strf():
    at = _page()
    assert at.title[0].value == "Explore"
    matches, cams = _column_state(at)
    assert len(matches) == 2 and len(cams) == 2  # baseline and STRF
    summary = (
        r"First true match: \*\*rank\xa0\d+\*\* · AP\xa0\*\*[01]\.\d{3}\*\* · "
        r"\d+\xa0true\xa0matches"
    )
    assert all(re.fullmatch(summary, m) for m in matches), matches  # groups kept unbroken
    assert "p3dc_resnet_tiny, no STRF" in _captions(at)
    assert "p3dc_resnet_tiny, STRF with all four branches" in _captions(at)
    images = at.get("image")
    assert len(images) >= 5  # query frames, two overlay strips, two ranking strips
    assert not at.info  # a query is chosen: no prompt


def test_frames_are_labelled_and_the_strips_show_the_frames_with_evidence():
    """Every strip labels its frames t=...; the query shows 16 evenly spaced frames; each model
    column shows the query and the gallery tracklet its maps explain, each on the frames with
    the most evidence: a frame the caption says has evidence is never left out (before: 8
    evenly spaced frames, and the caption named evidence in frames the strip did not show)."""
    from app.components.frames import shown_frames

    at = _page()
    query, *overlays = _strips(at)
    assert query == [f"t={t}" for t in shown_frames(_query_frames(at), 16)]
    assert len(overlays) == 4  # per model: the query, then the explained gallery tracklet
    sides = [c for c in _captions(at) if c.startswith(("**Query**", "**Gallery #"))]
    assert len(sides) == 4
    for strip, caption in zip(overlays, sides, strict=True):
        shown = {int(label[2:]) for label in strip}
        total = int(re.search(r"(\d+) frames", caption).group(1))
        assert len(shown) == min(total, 8), (strip, caption)
        assert "[" not in caption, caption  # no Python list
        only = re.search(r"only in t=([\d, ]+)\.", caption)
        if only:  # the frames with evidence: all of them shown, or only they fill the strip
            named = {int(t) for t in only.group(1).split(", ")}
            assert (named <= shown) if len(named) <= 8 else (shown <= named), (strip, caption)
        empty = re.search(r"no evidence in frames? t=([\d, ]+) of", caption)
        if empty and total - len(empty.group(1).split(", ")) >= 8:
            # enough frames with evidence to fill the strip: none of the empty ones shown
            assert not {int(t) for t in empty.group(1).split(", ")} & shown, (strip, caption)


def _query_frames(at: AppTest) -> int:
    """How many frames the shown query has (from its title: ``... (16 frames, ...``)."""
    details = next(c for c in _captions(at) if re.match(r"\d+ frames · ", c))
    return int(details.split(" ")[0])


def test_top_hits_have_two_short_caption_lines():
    from app.components.frames import KIND_MARKS

    at = _page()
    hits = [
        c
        for image in at.get("image")
        for c in image.captions
        if not c.startswith(("t=", "id "))  # frames; the look-alike group's members
    ]
    assert len(hits) in (2 * 10, 2 * 10 + 1, 2 * 10 + 2)  # the top 10, a nearest match below
    for caption in hits:
        first, second = caption.split("  \n")
        assert re.fullmatch(r"\*\*\d+\*\* d=\d\.\d{3}", first), caption  # rank, distance
        assert second in KIND_MARKS.values(), caption  # what the hit is


def test_strip_thinning_and_evidence_in_words():
    from app.components.frames import evidence_note, shown_frames

    assert shown_frames(4, 8) == [0, 1, 2, 3]  # short clips: every frame
    assert shown_frames(16, 8) == [0, 2, 4, 6, 9, 11, 13, 15]  # evenly, both ends kept
    assert shown_frames(25, 16)[:4] == [0, 2, 3, 5] and shown_frames(25, 16)[-1] == 24
    assert evidence_note((), 16) == ""
    assert evidence_note((3,), 16) == "Grad-CAM finds no evidence in frame t=3 of 16."
    assert evidence_note((3, 7), 16) == "Grad-CAM finds no evidence in frames t=3, 7 of 16."
    most = tuple(t for t in range(16) if t not in (8, 12))
    assert evidence_note(most, 16) == (
        "Grad-CAM finds no evidence in 14 of 16 frames, only in t=8, 12."
    )
    assert evidence_note(tuple(range(16)), 16) == (
        "Grad-CAM finds no evidence in any of the 16 frames."
    )


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def test_explore_says_what_the_models_are_with_numbers_from_the_data():
    at = _page()
    intro = next(c for c in _captions(at) if c.startswith("2 p3dc_resnet_tiny models"))
    data = load_config(MODELS_DIR / "strf" / "config.yaml").data
    height, width = data.height, data.width
    assert f"({height}x{width} clips)" in intro, intro
    for name in ("baseline", "strf"):
        record = json.loads((MODELS_DIR / name / "eval.json").read_text())
        metrics = record["metrics"]
        clean = metrics["subsets"]["clean"]["mAP"]
        want = f"{record['label']} {_pct(metrics['mAP'])} ({_pct(clean)} on clean queries)"
        assert want in intro, intro
        assert f"{record['training']['epochs']} epochs" in intro
    report = ROOT / "docs" / "results" / f"clips{height}" / "benchmark.json"
    if not report.is_file():  # the benchmark at this clip size is not there: nothing claimed
        assert "benchmark" not in intro, intro
    else:
        rows = json.loads(report.read_text())["rows"]
        a, b = (rows[0]["stats"]["mAP"], rows[1]["stats"]["mAP"])
        means = f"{_pct(a['mean'])} ± {_pct(a['std'])} vs {_pct(b['mean'])} ± {_pct(b['std'])}"
        assert means in intro, intro
        within = abs(b["mean"] - a["mean"]) <= max(a["std"], b["std"])
        assert ("within noise" in intro) == within, intro
    assert "gradient is zero or negative" in intro


def test_toggles_change_the_strf_column_only():
    at = _page()
    matches, cams = _column_state(at)
    at.toggle(key="explore:s_fine").set_value(False)
    at.toggle(key="explore:s_coarse").set_value(False).run()
    _assert_ok(at)
    toggled_matches, toggled_cams = _column_state(at)
    assert "p3dc_resnet_tiny, STRF with temporal dynamic, temporal static" in _captions(at)
    assert toggled_cams[0] == cams[0] and toggled_matches[0] == matches[0]  # baseline as it was
    assert toggled_cams[1] != cams[1]  # STRF's similarity to its explained entry moved
    at.toggle(key="explore:s_fine").set_value(True)
    at.toggle(key="explore:s_coarse").set_value(True).run()
    assert _column_state(at) == (matches, cams)  # back to all four: the same results


def test_subset_filter_lists_only_that_hard_case():
    at = _page()
    at.selectbox(key="explore:subset").set_value("occluded").run()
    _assert_ok(at)
    options = at.selectbox(key="explore:query").options
    root = demo_world()  # the app's (cached) world, whose subsets the filter reads
    occluded = subset_masks(root, demo_dataset(root).query)["occluded"]
    listed = [int(re.match(r"#(\d+) · id \d+ · camera \d+$", o).group(1)) for o in options]
    assert listed == [i for i, hard in enumerate(occluded) if hard]  # all of them, only them
    details = [c for c in _captions(at) if re.match(r"\d+ frames · ", c)]
    assert len(details) == 1 and "occluded" in details[0]  # what the short option leaves out


def test_upload_chosen_but_empty_prompts_once():
    at = _page()
    at.radio(key="explore:source").set_value("Upload").run()
    _assert_ok(at)
    assert [i.value for i in at.info] == [
        "Choose a query in the sidebar: a sample query, an example or an upload."
    ]
    assert not at.error and not _column_state(at)[0]


def _upload(at: AppTest, *files: tuple[str, bytes, str]) -> AppTest:
    at.radio(key="explore:source").set_value("Upload").run()
    at.file_uploader(key="explore:upload:0").set_value(list(files)).run()
    _assert_ok(at)
    return at


def _example_label(name: str) -> str:
    """``"id P, camera C"`` read from the MARS name of an example's first frame."""
    first = sorted(example_tracklets()[name].iterdir())[0].name  # PPPPCcTttttFfff.jpg
    return f"id {int(first[:4])}, camera {int(first[5])}"


def test_upload_of_a_labelled_zip_ranks_it_with_true_matches_marked():
    data = example_tracklets()["misaligned.zip"].read_bytes()
    at = _upload(_page(), ("misaligned.zip", data, "application/zip"))
    assert not at.error
    label = _example_label("misaligned")
    assert any("misaligned.zip" in c and label in c for c in _captions(at))
    matches, cams = _column_state(at)
    assert len(matches) == 2 and len(cams) == 2


def test_clear_button_empties_the_uploader():
    data = example_tracklets()["misaligned.zip"].read_bytes()
    at = _upload(_page(), ("misaligned.zip", data, "application/zip"))
    assert len(_column_state(at)[0]) == 2
    at.button(key="explore:clear").click().run()
    _assert_ok(at)
    assert at.file_uploader(key="explore:upload:1").value in (None, [])
    assert [i.value for i in at.info] == [
        "Choose a query in the sidebar: a sample query, an example or an upload."
    ]
    assert not _column_state(at)[0]


def test_distractor_names_are_ranked_unlabelled_with_the_reason():
    # Before: pid 0000 labelled the upload "identity 0" and every distractor became a match.
    frames = {f"q/0000C1T0001F{f:03d}.png": _png() for f in (1, 2, 3)}
    at = _upload(_page(), ("q.zip", _zip(frames), "application/zip"))
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "pid 0000" in warnings[0] and "distractor" in warnings[0]
    assert any("q.zip (3 frames, unlabelled)" in c for c in _captions(at))
    assert not _column_state(at)[0]  # no "First true match" line: nothing counted as one


def test_shipped_example_is_flagged_as_a_self_match():
    at = _page()
    at.radio(key="explore:source").set_value("Example tracklet").run()
    at.selectbox(key="explore:example").set_value("misaligned").run()
    _assert_ok(at)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and warnings[0].startswith("Self-match: this upload is gallery")
    assert f"({_example_label('misaligned')}) byte for byte" in warnings[0]
    assert "left out" in warnings[0]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 64), (90, 40, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BAD_UPLOADS = {
    "not a zip": (("frames.zip", b"this is not an archive", "application/zip"), "frames.zip"),
    "empty zip": (("empty.zip", _zip({"readme.txt": b"no frames"}), "application/zip"), "empty"),
    "text file": (("notes.txt", b"hello", "text/plain"), "notes.txt"),
    "truncated image": (("f001.png", _png()[:40], "image/png"), "f001.png"),
    "path traversal": (("evil.zip", _zip({"../x.png": _png()}), "application/zip"), "evil.zip"),
    "broken video": (
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4"),
        "clip.mp4",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_UPLOADS))
def test_bad_uploads_give_a_message_not_a_traceback(kind):
    upload, named = BAD_UPLOADS[kind]
    at = _upload(_page(), upload)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and named in errors[0], errors
    assert not at.info  # the error alone, no prompt after it
    assert not _column_state(at)[0]  # nothing ranked
    # The app keeps working: back to a sample query.
    at.radio(key="explore:source").set_value("Sample query").run()
    _assert_ok(at)
    assert not at.error and len(_column_state(at)[0]) == 2


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _first_clean_query() -> tuple[int, int]:
    """The lab's stated rule, computed here from the world's files: the first query of no
    hard case, of at most 32 frames, with a true match (same id, another camera). Returns its
    index and frame count."""
    data = demo_dataset(demo_world())
    clean = data.query_subsets()["clean"]
    for i, t in enumerate(data.query):
        match = any(g.pid == t.pid and g.camid != t.camid for g in data.gallery)
        if clean[i] and len(t.frames) <= 32 and match:
            return i, len(t.frames)
    raise AssertionError("no clean query")


def test_occlusion_lab_compares_before_and_after():
    at = _page("views/occlusion_lab.py")
    assert at.title[0].value == "Occlusion lab"
    table = at.dataframe[0].value
    assert list(table["model"]) == ["baseline", "strf"]
    assert (table["similarity before"] != table["similarity after"]).all()
    at.slider(key="occlusion:size").set_value(2.5).run()
    _assert_ok(at)
    bigger = at.dataframe[0].value
    assert not bigger["similarity after"].equals(table["similarity after"])
    assert bigger["similarity before"].equals(table["similarity before"])


def test_occlusion_lab_opens_on_a_clean_query_and_shows_every_frame():
    """The default query follows the stated rule (not the first query, which is behind a
    car), says so, and every frame is shown: a strip thinned to 16 cells would drop frames of
    this 17+-frame query without a word."""
    index, frames = _first_clean_query()
    at = _page("views/occlusion_lab.py")
    assert at.selectbox(key="occlusion:subset").value == "no hard case"
    assert any(f"opens on query #{index}: the first clean query" in c for c in _captions(at))
    assert any(c.startswith(f"#{index}: ") and f"all {frames} frames" in c for c in _captions(at))
    before, after, *columns = _strips(at)
    assert before == after == [f"t={t}" for t in range(frames)], (frames, before)
    assert all(c == before for c in columns) and len(columns) == 4  # 2 models x before/after


def test_occlusion_lab_ranks_on_a_linear_axis():
    at = _page("views/occlusion_lab.py")
    spec = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if "Rank" in json.dumps(json.loads(c.proto.spec)["layout"].get("title", ""))
    )
    assert spec["layout"]["yaxis"].get("type", "linear") == "linear"


def test_occlusion_sweep_over_clean_queries():
    """A sweep runs on request with progress, over the queries of the rule (evenly spaced:
    with 2, the first and the last eligible), and gives one row per model and value with
    the occluder's pixel share growing with its size."""
    at = _page("views/occlusion_lab.py")
    assert any("Press **Run the sweep**" in i.value for i in at.info)  # nothing runs unasked
    at.slider(key="occlusion:sweep_count").set_value(2)
    at.multiselect(key="occlusion:sweep_models").set_value(["baseline", "strf"])
    _button(at, "Run the sweep").click().run()
    _assert_ok(at)
    data = demo_dataset(demo_world())
    clean = data.query_subsets()["clean"]
    eligible = [
        i
        for i, t in enumerate(data.query)
        if clean[i]
        and len(t.frames) <= 32
        and any(g.pid == t.pid and g.camid != t.camid for g in data.gallery)
    ]
    assert any(f"(#{eligible[0]}, #{eligible[-1]})" in c for c in _captions(at))
    rows = next(d.value for d in at.dataframe if "mass on occluder" in d.value.columns)
    sizes = sorted(set(rows["size"]))
    assert len(sizes) >= 5 and list(rows["model"].unique()) == ["baseline", "strf"]
    assert len(rows) == 2 * len(sizes)
    for _, model_rows in rows.groupby("model"):
        pixels = [float(v) for v in model_rows.sort_values("size")["occluder's pixels"]]
        assert pixels[:5] == sorted(pixels[:5])  # beyond 1.6 x the person, a car leaves the frame
        ranks = [float(v.split(" ± ")[0]) for v in model_rows["rank"]]
        assert all(r >= 1 for r in ranks)
    chart = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if "first true match" in json.dumps(json.loads(c.proto.spec)["layout"])
    )
    assert chart["layout"]["yaxis"].get("type", "linear") == "linear"
    assert any(c.startswith("Lines: the mean over the queries") for c in _captions(at))


def test_inside_strf_shows_masks_contributions_and_table2():
    at = _page("views/inside_strf.py")
    assert at.title[0].value == "Inside STRF"
    mask_line = next(m for m in _markdown(at) if "mask of `" in m)
    stats = next(c for c in _captions(at) if "A column of this mask" in c)
    at.radio(key="inside:branch").set_value("s_coarse").run()
    _assert_ok(at)
    assert next(m for m in _markdown(at) if "mask of `" in m) != mask_line
    assert next(c for c in _captions(at) if "A column of this mask" in c) != stats
    at.slider(key="inside:row:layer2.0.strf").set_value(0).run()
    _assert_ok(at)
    assert any("position row 0" in m for m in _markdown(at))
    tables = [d.value for d in at.dataframe]
    table2 = tables[-1]
    assert list(table2["model"])[:2] == ["c2d_resnet50", "i3d_resnet50"]
    assert table2["ours"][1] == "28,921,521"


def test_inside_strf_shows_a_non_local_position_and_follows_a_click():
    """The non-local unit of the shipped tiny model: its model said plainly, a position's
    weights on frames t-1, t, t+1 on STRF's fixed scale, its share per frame; a click (which
    writes the sliders' state) moves the mask, caption and sliders together."""
    at = _page("views/inside_strf.py")
    at.selectbox(key="inside:model").set_value("tiny/nonlocal").run()
    _assert_ok(at)
    unit = at.selectbox(key="inside:other-unit").value
    assert unit == "layer2.1.after"
    note = next(i.value for i in at.info if "non-local" in i.value)
    assert "64x32 clips" in note and "mAP 36.5" in note  # its eval.json, said on the page
    at.slider(key="inside:frame").set_value(2).run()
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    before = next(m for m in _markdown(at) if "draws from" in m)
    keys = (f"inside:row:nonlocal:{unit}", f"inside:col:nonlocal:{unit}")
    at.session_state[keys[0]], at.session_state[keys[1]] = 0, 1  # as the click's callback does
    at.run()
    _assert_ok(at)
    assert [at.slider(key=k).value for k in keys] == [0, 1]
    line = next(m for m in _markdown(at) if "draws from" in m)
    assert line != before and "frame 2, row 0, column 1" in line
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    panels = next(c for c in charts if len([t for t in c["data"] if t["type"] == "heatmap"]) == 3)
    titles = [a["text"] for a in panels["layout"]["annotations"]]
    assert titles == ["frame 1 (t-1)", "frame 2 (t)", "frame 3 (t+1)"]
    heatmaps = [t for t in panels["data"] if t["type"] == "heatmap"]
    assert all(len(h["z"]) == 4 and len(h["z"][0]) == 2 for h in heatmaps)  # 8x4 pooled 2x2
    axis = panels["layout"]["coloraxis"]
    assert (axis["cmin"], axis["cmax"]) == (-4, 4) and "1× uniform" in axis["colorbar"]["ticktext"]
    # The chosen position outlined on each panel: row 0, column 1 of the 8x4 grid.
    assert {(s["x0"], s["y0"]) for s in panels["layout"]["shapes"]} == {(16.0, 0.0)}
    share = next(c for c in charts if c["data"][0]["type"] == "bar")
    assert sum(share["data"][0]["y"]) == pytest.approx(1.0, abs=1e-4)


def test_inside_strf_shows_apm_neighbours_and_no_neighbour_at_the_clip_start():
    at = _page("views/inside_strf.py")
    at.selectbox(key="inside:model").set_value("tiny/apm_nl").run()
    at.selectbox(key="inside:other-unit").set_value("layer2.0.strf").run()  # APM's slot
    _assert_ok(at)
    assert any("appearance-preserving module" in m for m in _markdown(at))
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    panels = next(c for c in charts if c["layout"].get("coloraxis"))
    # Frame 0: no frame t-1; frame 0 itself passed on unchanged; frame 1 aligned to it.
    titles = [a["text"] for a in panels["layout"]["annotations"]]
    assert titles[:2] == ["frame 0 (t)", "frame 1 (t+1)"]
    assert "itself:<br>not re-arranged" in titles
    assert len([t for t in panels["data"] if t["type"] == "heatmap"]) == 1
    assert any("Its t+1 map draws on" in c and "t-1 map: no such frame" in c for c in _captions(at))


@pytest.fixture(scope="module")
def per_query():
    """Each demo query's AP and first-match rank under both models, by the reference loop
    (one query at a time) on the shipped embeddings: independent of the app's AP code."""
    from strf_core.demo import demo_models, model_gallery
    from strf_core.metrics import cosine_distance
    from strf_core.metrics.reference import evaluate_rank_loop

    root = demo_world()
    data = demo_dataset(root)
    q_pids = [t.pid for t in data.query]
    g_pids, g_cams = [t.pid for t in data.gallery], [t.camid for t in data.gallery]
    out = {}
    for name, model in demo_models().items():
        q = model_gallery(data.query, model, world_root=root).features(model.model)
        g = model_gallery(data.gallery, model, world_root=root).features(model.model)
        distances = cosine_distance(q, g).numpy()
        ap, first = [], []
        for i, tracklet in enumerate(data.query):
            args = (distances[i : i + 1], [q_pids[i]], g_pids, [tracklet.camid], g_cams)
            pairs = zip(g_pids, g_cams, strict=True)
            if not any(p == q_pids[i] and c != tracklet.camid for p, c in pairs):
                ap.append(float("nan"))
                first.append(None)
                continue
            result = evaluate_rank_loop(*args, max_rank=len(g_pids))
            ap.append(result["mAP"])
            first.append(int(result["cmc"].argmax()) + 1)
        out[name] = (ap, first)
    return out


def _shown_query(at: AppTest) -> int:
    return at.selectbox(key="explore:query").value.index


def _choose_query(at: AppTest, index: int) -> AppTest:
    """Choose sample query ``index`` in the picker (its options are objects, shown as text)."""
    from app.resources import SUBSETS, QueryInfo

    root = demo_world()
    tracklet = demo_dataset(root).query[index]
    masks = subset_masks(root, demo_dataset(root).query)
    kinds = tuple(s for s in SUBSETS if masks[s][index])
    info = QueryInfo(index, tracklet.pid, tracklet.camid, len(tracklet.frames), kinds)
    at.selectbox(key="explore:subset").set_value("any").run()  # every query listed
    at.selectbox(key="explore:query").set_value(info).run()
    _assert_ok(at)
    return at


def test_explore_opens_on_the_median_occluded_query_and_says_so(per_query):
    at = _page()
    (ap_a, _), (ap_b, _) = per_query["baseline"], per_query["strf"]
    occluded = subset_masks(demo_world(), demo_dataset(demo_world()).query)["occluded"]
    candidates = [  # occluded, a true match (NaN: none), and the two models disagree
        i
        for i, o in enumerate(occluded)
        if o and not math.isnan(ap_a[i] + ap_b[i]) and abs(ap_b[i] - ap_a[i]) > 1e-6
    ]
    ordered = sorted(candidates, key=lambda i: (ap_b[i] - ap_a[i], i))
    expected = ordered[(len(ordered) - 1) // 2]
    assert _shown_query(at) == expected  # not simply the first query (#0)
    rule = next(c for c in _captions(at) if c.startswith("The page opens on this query"))
    assert f"of the {len(ordered)} occluded queries where the two models' AP differ" in rule
    assert "median" in rule, rule
    assert f"({ap_b[expected] - ap_a[expected]:+.3f} here)" in rule, rule
    # Choosing another query: the rule is no longer claimed for it.
    _choose_query(at, 0 if expected else 1)
    assert not any(c.startswith("The page opens on this query") for c in _captions(at))


def test_where_they_differ_counts_both_sides_of_the_diagonal(per_query):
    at = _page()
    (ap_a, _), (ap_b, _) = per_query["baseline"], per_query["strf"]
    pairs = [(a, b) for a, b in zip(ap_a, ap_b, strict=True) if not math.isnan(a + b)]
    above = sum(b - a > 1e-6 for a, b in pairs)
    below = sum(a - b > 1e-6 for a, b in pairs)
    line = next(m for m in _markdown(at) if m.startswith("Every query's AP"))
    assert f"**{above}** queries above the diagonal (strf better)" in line, line
    assert f"**{below}** below (baseline better)" in line, line
    assert f"**{len(pairs) - above - below}** on it, of {len(pairs)} queries" in line, line
    table = next(d.value for d in at.dataframe if "queries" in d.value.columns)
    first = table.iloc[0]
    assert (first["strf higher"], first["baseline higher"]) == (above, below)
    assert list(table["queries"])[1:4] == ["look-alike", "occluded", "misaligned"]


def _lookalike_groups() -> dict[int, set[int]]:
    """The test split's look-alike groups as the world's metadata records them."""
    meta = json.loads((demo_world() / "synthetic_meta.json").read_text())
    return {g["group"]: set(g["pids"]) for g in meta["lookalike_groups"] if g["split"] == "test"}


def test_lookalike_hits_are_marked_and_the_group_shown():
    at = _page()
    at.selectbox(key="explore:subset").set_value("look-alike").run()
    at.slider(key="explore:k").set_value(20).run()
    _assert_ok(at)
    pid = at.selectbox(key="explore:query").value.pid
    group = next(pids for pids in _lookalike_groups().values() if pid in pids)
    line = next(m for m in _markdown(at) if m.startswith("**Look-alike group"))
    named = {int(p) for p in re.findall(r"\b(\d{2,4})\b", line.split(":", 1)[1].split(".")[0])}
    assert named == group, (line, group)
    members = [c for i in at.get("image") for c in i.captions if c.startswith("id ")]
    assert len(members) == len(group)
    for table in (d.value for d in at.dataframe if "hit" in d.value.columns):
        for kind, hit_pid in zip(table["hit"], table["id"], strict=True):
            lookalike = hit_pid in group and hit_pid != pid
            assert kind.startswith("look-alike") == lookalike, (kind, hit_pid, group)


def test_nearest_true_match_is_shown_below_the_top_k(per_query):
    at = _page()
    _, first = per_query["baseline"]
    index = next(i for i, rank in enumerate(first) if rank is not None and rank > 5)
    at.slider(key="explore:k").set_value(5).run()
    _choose_query(at, index)
    assert any(m.startswith("**Nearest true match**, below the top 5") for m in _markdown(at))
    captions = [c for i in at.get("image") for c in i.captions]
    assert any(c.startswith(f"**{first[index]}** d=") for c in captions), first[index]


def test_inside_strf_click_state_mask_scale_and_table2():
    at = _page("views/inside_strf.py")
    unit = at.selectbox(key="inside:unit").value
    # The position lives in the sliders' state: set it (as a click does), the page follows.
    at.session_state[f"inside:row:{unit}"] = 1
    at.session_state[f"inside:col:{unit}"] = 0
    at.run()
    _assert_ok(at)
    assert at.slider(key=f"inside:row:{unit}").value == 1
    assert any("position row 1, column 0" in m for m in _markdown(at))
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    heatmaps = [t for c in charts for t in c["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 1  # one mask, not one per frame
    assert (heatmaps[0]["zmin"], heatmaps[0]["zmax"]) == (-4, 4)  # fixed, not its own range
    assert "1× uniform" in heatmaps[0]["colorbar"]["ticktext"]
    table2 = at.dataframe[-1].value
    assert "None" not in table2.to_string()
    assert table2["paper P(M)"][0] == "—" and table2["paper P(M)"][1] == "28.92"


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("yours") / "tiny"
    generate(root, preset="tiny", seed=3, size=(128, 64), workers=1, progress=False)
    return root


def _load_your_model(at: AppTest, chosen: list[str], root: str | None) -> AppTest:
    at.multiselect(key="yours:chosen").set_value(chosen)
    if root is not None:
        at.radio(key="yours:dataset").set_value(at.radio(key="yours:dataset").options[1])
        at.text_input(key="yours:root").set_value(root)
    _button(at, "Load").click().run()
    _assert_ok(at)
    return at


def test_your_model_explores_checkpoints_on_a_dataset_root(tiny_world):
    at = _page("views/your_model.py")
    options = at.multiselect(key="yours:chosen").options
    assert {"shipped: baseline", "shipped: strf", "shipped: tiny/strf"} <= set(options)
    at = _load_your_model(at, ["shipped: baseline", "shipped: strf"], str(tiny_world))
    assert not at.error
    assert any("2 model(s) on mars" in s.value for s in at.success)
    assert len(_column_state(at)[0]) == 2


def test_your_model_lists_runs_under_a_folder(tmp_path):
    """Runs are found below the folder given (a checkpoint = model.safetensors + config.yaml);
    a folder holding only part of one is named with what it lacks, and not listed."""
    import shutil

    for run in ("strf_run/last", "strf_run/best"):
        shutil.copytree(MODELS_DIR / "strf", tmp_path / "runs" / run)
    broken = tmp_path / "runs" / "broken" / "last"
    broken.mkdir(parents=True)
    shutil.copy(MODELS_DIR / "strf" / "model.safetensors", broken)
    at = _page("views/your_model.py")
    at.text_input(key="yours:folder").set_value(str(tmp_path / "runs")).run()
    _assert_ok(at)
    options = at.multiselect(key="yours:chosen").options
    assert {"strf_run/best", "strf_run/last"} <= set(options)
    assert not any("broken" in o for o in options)
    warning = " ".join(w.value for w in at.warning)
    assert f"`{broken}` lacks config.yaml" in warning


def test_your_model_names_a_missing_folder_and_a_bad_root(tiny_world, tmp_path):
    at = _page("views/your_model.py")
    at.text_input(key="yours:folder").set_value(str(tmp_path / "nope")).run()
    assert len(at.error) == 1 and f"there is no folder {tmp_path / 'nope'}" in at.error[0].value
    at = _load_your_model(_page("views/your_model.py"), ["shipped: strf"], str(tmp_path))
    assert len(at.error) == 1 and str(tmp_path) in at.error[0].value

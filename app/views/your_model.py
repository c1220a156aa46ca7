"""Your model: checkpoints of `strf train` on a dataset the loaders read, explored like the demo."""

from pathlib import Path

import streamlit as st

from app import resources as R
from app.components.explorer import explorer
from strf_core.data.datasets import datasets_with_option, list_datasets

KEY = "yours"
DATASETS = list_datasets()  # every layout the loaders read
SPLIT_DATASETS = ", ".join(datasets_with_option("split_id"))
SHIPPED = "shipped: "
DEMO_WORLD = "the demo world (where the shipped models were scored; generated once if absent)"
FOLDER = "a dataset folder"
LISTED = 5  # incomplete folders named at most


def _found_runs(folder: str) -> dict[str, Path]:
    """The checkpoints under the folder the user gives, by their path below it; what cannot
    be listed is said in the page (a missing folder, folders missing files)."""
    if not folder:
        return {}
    try:
        search = R.find_checkpoints(folder)
    except (FileNotFoundError, NotADirectoryError) as err:
        st.error(f"Cannot look for runs: {err}.")
        return {}
    if search.incomplete:
        lines = [
            f"`{path}` lacks {' and '.join(missing)}"
            for path, missing in list(search.incomplete.items())[:LISTED]
        ]
        more = len(search.incomplete) - LISTED
        st.warning(
            f"{len(search.incomplete)} folder(s) under {search.root} hold part of a checkpoint "
            "and are not listed: " + "; ".join(lines) + (f"; and {more} more." if more > 0 else ".")
        )
    if not search.found:
        st.warning(
            f"No checkpoint under {search.root} (a folder holding "
            f"{' and '.join(R.CHECKPOINT_FILES)}, up to {R.SEARCH_DEPTH} levels down)."
        )
    else:
        shown = "the first " if search.truncated else ""
        st.caption(
            f"Found {len(search.found)} checkpoint(s) under {search.root}; {shown}listed below "
            "by their path in it."
        )
    return {
        (path.relative_to(search.root).as_posix() if path != search.root else path.name): path
        for path in search.found
    }


st.title("Your model")
st.caption(
    "Explore checkpoints written by `strf train` (folders holding model.safetensors and "
    "config.yaml: `last/` inside a run folder, the final model to report, or `best/` where a "
    "validation split chose one) on a dataset in one of the supported layouts (`strf data "
    "check ROOT --dataset NAME` validates one). Choose a baseline and an STRF checkpoint to "
    "see them side by side. The first look embeds the whole gallery with each model: minutes "
    "for MARS on a CPU, cached on disk afterwards."
)

st.subheader("Checkpoints")
folder = st.text_input(
    "Look for runs under this folder (an absolute path, or ~/...)",
    key=f"{KEY}:folder",
    placeholder="~/runs",
).strip()
choices = {f"{SHIPPED}{name}": path for name, path in R.shipped_checkpoints().items()}
choices |= _found_runs(folder)

with st.form(f"{KEY}:form"):
    chosen = st.multiselect(
        "Checkpoints to compare (one, or a baseline and an STRF model)",
        tuple(choices),
        default=[c for c in (f"{SHIPPED}baseline", f"{SHIPPED}strf") if c in choices],
        key=f"{KEY}:chosen",
    )
    source = st.radio("Dataset", (DEMO_WORLD, FOLDER), key=f"{KEY}:dataset")
    left, middle, right = st.columns(3)
    dataset = left.selectbox("Dataset layout", DATASETS, index=DATASETS.index("mars"))
    split_id = middle.number_input(f"Split ({SPLIT_DATASETS})", 0, 9, 0)
    protocol = right.selectbox("MARS protocol", ("ap3d", "torchreid"))
    root = st.text_input(
        "Dataset folder (for 'a dataset folder')", placeholder="~/data/MARS", key=f"{KEY}:root"
    )
    submitted = st.form_submit_button("Load")

if submitted:
    st.session_state[f"{KEY}:spec"] = (
        tuple(str(choices[c]) for c in chosen if c in choices),
        dataset if source == FOLDER else "mars",
        root.strip() if source == FOLDER else None,
        int(split_id),
        protocol if source == FOLDER else "ap3d",
    )
spec = st.session_state.get(f"{KEY}:spec")
if spec is None:
    st.info("Choose checkpoints and a dataset, and press Load.")
    st.stop()
checkpoints, dataset, root, split_id, protocol = spec
if not checkpoints:
    st.error("Choose at least one checkpoint.")
    st.stop()
if root == "":
    st.error("Give the dataset folder, or choose the demo world.")
    st.stop()
for path in checkpoints:  # listed a moment ago; say so if one has gone since
    if not Path(path).is_dir():
        st.error(f"The checkpoint folder {path} no longer exists.")
        st.stop()
    if missing := R.missing_checkpoint_files(Path(path)):
        st.error(f"The checkpoint folder {path} lacks {' and '.join(missing)}.")
        st.stop()
try:
    with st.spinner("Loading the checkpoints and the dataset, then embedding the gallery..."):
        if root is None:
            root = str(R.demo_world_root())
        ws = R.custom_workspace(checkpoints, dataset, root, split_id, protocol)
        R.warm_up(ws)
except Exception as err:  # a bad folder or format: the loaders name the file and the problem
    st.error(f"Could not load them: {type(err).__name__}: {err}")
    st.stop()
st.success(
    f"{len(ws.models)} model(s) on {dataset} ({root}): {len(ws.dataset.query)} queries, "
    f"{len(ws.dataset.gallery)} gallery tracklets."
)
explorer(ws, KEY)

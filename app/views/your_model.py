"""Your model: checkpoints of `strf train` on a dataset the loaders read, explored like the demo."""

import streamlit as st

from app import resources as R
from app.components.explorer import explorer
from strf_core.data.datasets import datasets_with_option, list_datasets

KEY = "yours"
DATASETS = list_datasets()  # every layout the loaders read
SPLIT_DATASETS = ", ".join(datasets_with_option("split_id"))

st.title("Your model")
st.caption(
    "Load one or more checkpoint folders written by `strf train` (each holds model.safetensors, "
    "config.yaml and state.pt; `last/` inside a run folder, the final model to report, or `best/` "
    "where a validation split chose one; or the run folder itself) "
    "and a dataset root in one of the supported layouts (`strf data check ROOT --dataset NAME` "
    "validates one). Give a baseline and an STRF checkpoint to see them side by side. The first "
    "look embeds the whole gallery with each model: minutes for MARS on a CPU, cached on disk "
    "afterwards."
)

with st.form(f"{KEY}:form"):
    paths = st.text_area(
        "Checkpoint folders, one per line",
        value=st.session_state.get(f"{KEY}:paths", ""),
        placeholder="runs/mars_p3dc/last\nruns/mars_strf_p3dc/last",
    )
    left, middle, right = st.columns(3)
    dataset = left.selectbox("Dataset layout", DATASETS, index=DATASETS.index("mars"))
    split_id = middle.number_input(f"Split ({SPLIT_DATASETS})", 0, 9, 0)
    protocol = right.selectbox("MARS protocol", ("ap3d", "torchreid"))
    root = st.text_input("Dataset root", placeholder="~/data/MARS")
    submitted = st.form_submit_button("Load")

if submitted:
    st.session_state[f"{KEY}:spec"] = (
        tuple(line.strip() for line in paths.splitlines() if line.strip()),
        dataset,
        root.strip(),
        int(split_id),
        protocol,
    )
spec = st.session_state.get(f"{KEY}:spec")
if spec is None:
    st.info("Fill in the form and press Load.")
    st.stop()
checkpoints, dataset, root, split_id, protocol = spec
if not checkpoints or not root:
    st.error("Give at least one checkpoint folder and a dataset root.")
    st.stop()
try:
    with st.spinner("Loading the checkpoints and the dataset, then embedding the gallery..."):
        ws = R.custom_workspace(checkpoints, dataset, root, split_id, protocol)
        R.warm_up(ws)
except Exception as err:  # a bad folder or format: the loaders name the file and the problem
    st.error(f"Could not load them: {type(err).__name__}: {err}")
    st.stop()
st.success(
    f"{len(ws.models)} model(s) on {dataset}: {len(ws.dataset.query)} queries, "
    f"{len(ws.dataset.gallery)} gallery tracklets."
)
explorer(ws, KEY)

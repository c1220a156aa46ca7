"""Explore: a query, baseline beside STRF, attention and retrievals; branch toggles live."""

import streamlit as st

from app.components.explorer import explorer
from app.components.workspace import demo_workspace

st.title("Explore")
st.caption(
    "The demo models (tiny P3D-C baseline and STRF-P3D-C, trained on the synthetic demo world) "
    "rank the demo gallery for a query. The maps show where in each frame the similarity to "
    "the explained gallery tracklet comes from (Grad-CAM of layer4)."
)
explorer(demo_workspace(), "explore")

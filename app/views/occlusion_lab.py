"""occlusion_lab (in progress)."""

import streamlit as st

st.title("occlusion_lab")
st.info("Coming next.")

"""benchmarks (in progress)."""

import streamlit as st

st.title("benchmarks")
st.info("Coming next.")

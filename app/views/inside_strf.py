"""inside_strf (in progress)."""

import streamlit as st

st.title("inside_strf")
st.info("Coming next.")

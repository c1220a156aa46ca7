"""your_model (in progress)."""

import streamlit as st

st.title("your_model")
st.info("Coming next.")

"""STRF Explorer dashboard: ``streamlit run app/main.py``.

A thin router; the pages are in ``app/views/``, their widgets in ``app/components/``, and every
call into ``strf_core`` goes through ``app/resources.py``.
"""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `app` importable as a package

# Streamlit's own favicon: an emoji one costs the first page 0.5 s (Streamlit compiles its emoji
# table to check it), and a ":material/...:" one is fetched from a font host.
st.set_page_config(page_title="STRF Explorer", layout="wide")

VIEWS = Path(__file__).resolve().parent / "views"
pages = [
    st.Page(VIEWS / "explore.py", title="Explore", icon=":material/search:", default=True),
    st.Page(VIEWS / "occlusion_lab.py", title="Occlusion lab", icon=":material/block:"),
    st.Page(VIEWS / "inside_strf.py", title="Inside STRF", icon=":material/grid_view:"),
    st.Page(VIEWS / "benchmarks.py", title="Benchmarks", icon=":material/bar_chart:"),
    st.Page(VIEWS / "your_model.py", title="Your model", icon=":material/folder_open:"),
]
st.navigation(pages).run()

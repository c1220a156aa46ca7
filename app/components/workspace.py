"""Getting the demo workspace ready, with what is happening shown in the page."""

from __future__ import annotations

import streamlit as st

from app import resources as R


def demo_workspace() -> R.Workspace:
    """The demo models on the demo world; the first start prepares them (once, then cached).

    Stops the page with a message if the sample data cannot be prepared.
    """
    try:
        with st.spinner(
            "Preparing the sample data: the first start generates the test split of the "
            "synthetic demo world (about a minute, once; then cached on disk; `strf demo` does "
            "it ahead of time, with every core). The gallery embeddings are shipped."
        ):
            ws = R.demo_workspace()
            R.warm_up(ws)
    except Exception as err:  # a broken cache or sample_data: say what, never a traceback
        st.error(f"The sample data could not be prepared: {type(err).__name__}: {err}")
        st.stop()
    R.start_precompute(ws)
    return ws

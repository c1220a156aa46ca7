"""Reusable dashboard widgets; they call :mod:`app.resources`, never ``strf_core`` maths."""

"""Writers of dataset trees in the real on-disk formats: the one MARS writer (used by the
synthetic world and the tiny trees alike), tiny trees of every supported format for tests and
tutorials, and the single-file helpers (frames, ``.mat`` matrices) they share."""

from strf_core.data.writers.files import save_frame, write_image, write_mat
from strf_core.data.writers.mars import (
    MarsTracklet,
    SplitLayout,
    frame_numbers,
    layout_split,
    write_info,
    write_mars,
)
from strf_core.data.writers.tiny import (
    write_tiny_duke,
    write_tiny_folder,
    write_tiny_ilids,
    write_tiny_mars,
    write_tiny_prid,
)

__all__ = [
    "MarsTracklet",
    "SplitLayout",
    "frame_numbers",
    "layout_split",
    "save_frame",
    "write_image",
    "write_info",
    "write_mars",
    "write_mat",
    "write_tiny_duke",
    "write_tiny_folder",
    "write_tiny_ilids",
    "write_tiny_mars",
    "write_tiny_prid",
]

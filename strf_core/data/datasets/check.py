"""Is every frame of a dataset there and readable? (what ``strf data check`` runs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, UnidentifiedImageError


def frame_problem(path: str, *, full: bool = False) -> str | None:
    """Why ``path`` is not a usable frame, or ``None`` when it is.

    Args:
        path: an image file.
        full: decode every pixel; without it PIL's ``verify`` checks the file's structure only,
            which is much faster but misses a JPEG cut short.
    """
    try:
        with Image.open(path) as image:
            image.verify()
        if full:
            # verify() leaves the image unusable: reopen to decode.
            with Image.open(path) as image:
                image.load()
    except FileNotFoundError:
        return f"missing: {path}"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"unreadable image ({err}): {path}"
    return None


def find_frame_problems(
    paths: Sequence[str],
    *,
    full: bool = False,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """:func:`frame_problem` over many files, in their order.

    Args:
        paths: image files.
        full: decode every pixel (see :func:`frame_problem`).
        workers: threads; they overlap the file reads (PIL releases the GIL while decoding).
        progress: called with ``(files checked, total)`` after each chunk of files.

    Returns:
        One line per bad file.
    """
    # Chunks rather than one task per file: map() submits every task at once, and a million
    # pending futures would hold hundreds of megabytes.
    chunk = 512
    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]

    def check(batch: Sequence[str]) -> list[str]:
        return [r for r in (frame_problem(p, full=full) for p in batch) if r is not None]

    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for i, found in enumerate(pool.map(check, chunks)):
            problems += found
            if progress is not None:
                progress(min((i + 1) * chunk, len(paths)), len(paths))
    return problems

"""Modules by name and forward pre-hooks that record what they receive.

Explanations look inside a model from outside (STYLE: no ``return_attention`` flags through
``forward``): a module is chosen by its name in ``model.named_modules()``, e.g. ``"layer4"``,
``"layer3.0"`` or ``"layer2.0.strf.branches.s_fine.reduce"``, and a hook records its input.
Register hooks only on a module that no other thread runs (see
:mod:`strf_core.explain.isolation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from torch import Tensor, nn


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; an unknown name lists some that exist.

    Raises:
        ValueError: no module of that name.
    """
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n and n.count(".") <= 1]
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise ValueError(f"no module {name!r} in the model; top-level ones: {shown}") from None


@contextmanager
def capture_inputs(model: nn.Module, names: Iterable[str]) -> Iterator[dict[str, Tensor]]:
    """Record the first positional input of each named module during the ``with`` block.

    A module that runs more than once keeps its last input; one that does not run (a switched-off
    STRF branch) is absent from the dict. The hooks are removed when the block exits.

    Yields:
        ``{name: input tensor}``, filled as the forward pass runs.
    """
    captured: dict[str, Tensor] = {}
    handles = []

    def recorder(name: str):
        def hook(_module: nn.Module, args: tuple) -> None:
            captured[name] = args[0]

        return hook

    try:
        for name in names:
            handles.append(get_module(model, name).register_forward_pre_hook(recorder(name)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()

"""Per-frame Grad-CAM (and integrated gradients) of a tracklet, for a similarity or a logit.

::

    clip (3, T, H, W) uint8 -> normalise -> model                     (1, 3, T, H, W)
      layer L (by name)         A  = activations                      (1, C, T, h, w)
      target S                  cos(embedding, gallery embedding)  or  logit of one identity
      per-frame weights         w  = mean_hw dS/dA                    (1, C, T, 1, 1)
      map                       ReLU(sum_c w * A)                     (1, T, h, w)
      upsample, normalise       FrameMaps.maps                        (T, H, W) in [0, 1]

captum's ``LayerGradCam`` averages the gradients over every dimension after the channels, time
included, so each frame would be weighted by the clip's average gradient: a frame that the
target ignores would still light up wherever its activations are large. :class:`FrameGradCam`
pools over space only, frame by frame, on top of captum's layer-gradient utility.

The clip runs through the model in one piece (as the dense evaluation does for tracklets of up
to ``chunk_len = 32`` frames), so the similarity explained is exactly the one the ranking shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from captum._utils.gradient import compute_layer_gradients_and_eval
from captum.attr import GradientAttribution, IntegratedGradients, LayerAttribution
from torch import Tensor, nn

from strf_core.data.transforms import normalize_clips
from strf_core.explain.hooks import get_module
from strf_core.explain.isolation import isolated
from strf_core.modules import current_active_branches

METHODS = ("gradcam", "integrated_gradients")
NORMALIZATIONS = ("tracklet", "frame", "none")


class FrameGradCam(LayerAttribution, GradientAttribution):
    """Grad-CAM of a video layer with one channel weighting per frame.

    Args:
        forward_func: the function to explain; ``(N, 3, T, H, W) -> (N,)`` or ``(N, K)``.
        layer: a module of ``forward_func``'s model whose output is ``(N, C, T, h, w)``.

    Shape:
        inputs: ``(N, 3, T, H, W)``. Returns: ``(N, T, h, w)``.
    """

    def __init__(self, forward_func: Callable[..., Tensor], layer: nn.Module) -> None:
        LayerAttribution.__init__(self, forward_func, layer)
        GradientAttribution.__init__(self, forward_func)

    def attribute(
        self,
        inputs: Tensor,
        target: int | None = None,
        additional_forward_args: object = None,
        relu_attributions: bool = True,
    ) -> Tensor:
        """``ReLU(sum_c mean_hw(dS/dA_{c,t}) * A_{c,t})`` for every frame ``t``.

        Args:
            inputs: the clips.
            target: output index to explain when ``forward_func`` returns ``(N, K)``.
            additional_forward_args: more arguments of ``forward_func``.
            relu_attributions: keep only the evidence for the target (the original Grad-CAM).
        """
        (grads,), (acts,) = compute_layer_gradients_and_eval(
            self.forward_func,
            self.layer,
            (inputs,),
            target,
            additional_forward_args,
        )
        if acts.dim() != 5:
            raise ValueError(
                f"FrameGradCam needs a layer with (N, C, T, h, w) output, got {tuple(acts.shape)}"
            )
        weights = grads.mean(dim=(3, 4), keepdim=True)  # (N, C, T, 1, 1): space only, per frame
        cam = (weights * acts).sum(dim=1)  # (N, T, h, w)
        return F.relu(cam) if relu_attributions else cam


@dataclass(frozen=True)
class FrameMaps:
    """Per-frame attribution maps of one tracklet.

    Attributes:
        maps: the maps at frame size, in ``[0, 1]`` (see ``normalize`` of the functions).
        raw: the non-negative maps before upsampling and normalisation (Grad-CAM: the layer's
            resolution; integrated gradients: frame size).
        empty: frames whose map is all zero (nothing for the target there); their ``maps`` are
            zeros, never NaN.
        score: the explained value: the cosine similarity or the logit.
        target: ``"similarity"`` or ``"identity <k>"``.
        layer: the module explained (``"input"`` for integrated gradients).
        method: ``"gradcam"`` or ``"integrated_gradients"``.
        branches: the STRF branches switched on (``None``: all).

    Shape:
        maps: ``(T, H, W)``; raw: ``(T, h, w)``; empty: ``(T,)``.
    """

    maps: Tensor
    raw: Tensor
    empty: Tensor
    score: float
    target: str
    layer: str
    method: str
    branches: tuple[str, ...] | None

    @property
    def all_empty(self) -> bool:
        """No frame has any evidence for the target: show the frames without a map."""
        return bool(self.empty.all())


def prepare_clip(clip: Tensor) -> Tensor:
    """A tracklet clip as the model's input batch of one.

    Args:
        clip: uint8 frames (``ClipTransform(normalize=False)``), or float frames already
            normalised.

    Shape:
        ``(3, T, H, W) -> (1, 3, T, H, W)``, float32.
    """
    if clip.dim() != 4 or clip.shape[0] != 3:
        raise ValueError(f"expected one clip (3, T, H, W), got {tuple(clip.shape)}")
    clip = normalize_clips(clip) if clip.dtype == torch.uint8 else clip.float()
    return clip.unsqueeze(0)


def similarity_gradcam(
    model: nn.Module,
    clip: Tensor,
    gallery_feature: Tensor,
    *,
    layer: str = "layer4",
    method: str = "gradcam",
    normalize: str = "tracklet",
    n_steps: int = 16,
    isolation: str = "copy",
) -> FrameMaps:
    """Where in each frame of the query the similarity to a gallery tracklet comes from.

    Args:
        model: a :class:`~strf_core.models.ResNet3D` in eval mode (shared models are safe).
        clip: the query tracklet's frames, uint8 (or normalised float).
        gallery_feature: the gallery tracklet's embedding (e.g. from
            :class:`~strf_core.retrieval.Gallery`), compared by cosine similarity.
        layer: module name of the layer to explain (``"layer4"``, ``"layer3"``, ...).
        method: ``"gradcam"`` or ``"integrated_gradients"`` (pixel level, ``n_steps`` forward
            and backward passes: slower).
        normalize: ``"tracklet"`` (one scale for every frame: which frames matter shows),
            ``"frame"`` (each frame to its own maximum) or ``"none"``.
        n_steps: integration steps of integrated gradients.
        isolation: how hooks are kept from other threads (:mod:`~strf_core.explain.isolation`).

    Returns:
        The maps; ``score`` is the cosine similarity (1 - the ranking's distance).

    Shape:
        clip: ``(3, T, H, W)``; gallery_feature: ``(D,)`` or ``(1, D)``.
    """
    target = F.normalize(gallery_feature.detach().float().reshape(1, -1), dim=1)
    return _similarity_maps(
        model,
        clip,
        lambda features: target,
        layer=layer,
        method=method,
        normalize=normalize,
        n_steps=n_steps,
        isolation=isolation,
    )


def _similarity_maps(
    model: nn.Module,
    clip: Tensor,
    target_of: Callable[[Tensor], Tensor],
    **explain: object,
) -> FrameMaps:
    """Maps of the cosine similarity between the clip's embedding and ``target_of(embedding)``
    (a unit-norm ``(1, D)``), with ``explain`` as :func:`_explain`'s keywords."""

    def forward(net: nn.Module) -> Callable[[Tensor], Tensor]:
        def similarity(clips: Tensor) -> Tensor:
            features = net(clips).features  # (N, D)
            target = target_of(features).to(features.device)
            return F.cosine_similarity(features, target, dim=1)  # (N,)

        return similarity

    return _explain(model, clip, forward, target=None, target_name="similarity", **explain)


def chosen_similarity_gradcam(
    model: nn.Module,
    clip: Tensor,
    choose: Callable[[Tensor], Tensor],
    *,
    layer: str = "layer4",
    normalize: str = "tracklet",
    isolation: str = "copy",
) -> tuple[FrameMaps, Tensor]:
    """:func:`similarity_gradcam` (Grad-CAM) to a gallery embedding chosen from the clip's own.

    ``choose`` gets the clip's embedding from this Grad-CAM's forward pass and returns the
    gallery embedding to explain, so a caller that ranks the gallery with that embedding and
    explains an entry of the ranking (the dashboard's toggle) runs the model once, not twice.
    The embedding is the model's forward on the whole clip: for a clip of at most one chunk it
    equals :func:`~strf_core.features.embed_clip`'s to float32 rounding.

    Args:
        model: a :class:`~strf_core.models.ResNet3D` in eval mode (shared models are safe).
        clip: the query's frames, uint8 (or normalised float).
        choose: ``query_feature (D,) -> gallery_feature (D,)``, called once, without gradient.
        layer, normalize, isolation: as for :func:`similarity_gradcam`.

    Returns:
        The maps (``score``: the cosine similarity to the chosen embedding) and the clip's
        embedding ``(D,)`` (float32, CPU).

    Shape:
        clip: ``(3, T, H, W)``.
    """
    chosen: dict[str, Tensor] = {}

    def target_of(features: Tensor) -> Tensor:  # (1, D): chosen on the one forward pass
        if "target" not in chosen:
            chosen["query"] = features.detach()[0].float().cpu()
            with torch.no_grad():
                target = choose(chosen["query"].clone()).detach().float().reshape(1, -1)
            chosen["target"] = F.normalize(target, dim=1)
        return chosen["target"]

    maps = _similarity_maps(
        model,
        clip,
        target_of,
        layer=layer,
        method="gradcam",
        normalize=normalize,
        n_steps=0,
        isolation=isolation,
    )
    return maps, chosen["query"]


def identity_gradcam(
    model: nn.Module,
    clip: Tensor,
    identity: int,
    *,
    layer: str = "layer4",
    method: str = "gradcam",
    normalize: str = "tracklet",
    n_steps: int = 16,
    isolation: str = "copy",
) -> FrameMaps:
    """Where in each frame the evidence for one training identity's logit is.

    Args:
        model: a :class:`~strf_core.models.ResNet3D` in eval mode.
        clip: the tracklet's frames, uint8 (or normalised float).
        identity: the classifier's class index (a relabelled training pid).
        layer, method, normalize, n_steps, isolation: as :func:`similarity_gradcam`.

    Returns:
        The maps; ``score`` is the logit.

    Shape:
        clip: ``(3, T, H, W)``.
    """

    def forward(net: nn.Module) -> Callable[[Tensor], Tensor]:
        def logits(clips: Tensor) -> Tensor:
            return net(clips).logits  # (N, num_classes)

        return logits

    return _explain(
        model,
        clip,
        forward,
        target=int(identity),
        target_name=f"identity {int(identity)}",
        layer=layer,
        method=method,
        normalize=normalize,
        n_steps=n_steps,
        isolation=isolation,
    )


def _explain(
    model: nn.Module,
    clip: Tensor,
    make_forward: Callable[[nn.Module], Callable[[Tensor], Tensor]],
    *,
    target: int | None,
    target_name: str,
    layer: str,
    method: str,
    normalize: str,
    n_steps: int,
    isolation: str,
) -> FrameMaps:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    switched_on = current_active_branches()
    # The dashboard may call from inside torch.no_grad() or inference mode: leave both here.
    with isolated(model, isolation) as net, torch.inference_mode(False), torch.enable_grad():
        inputs = prepare_clip(clip).to(next(net.parameters()).device)
        forward = make_forward(net)
        if method == "gradcam":
            outputs: list[Tensor] = []

            def recorded(clips: Tensor) -> Tensor:
                out = forward(clips)
                outputs.append(out.detach())
                return out

            module = get_module(net, layer)
            raw = FrameGradCam(recorded, module).attribute(inputs, target)[0]  # (T, h, w)
            out = outputs[-1][0]
        else:
            raw = _integrated_gradients(forward, inputs, target, n_steps)  # (T, H, W)
            layer = "input"
            with torch.no_grad():
                out = forward(inputs)[0]
        score = float(out if target is None else out[target])
    raw = raw.detach().float().cpu()
    maps, empty = normalize_maps(raw, (clip.shape[-2], clip.shape[-1]), normalize)
    return FrameMaps(
        maps=maps,
        raw=raw,
        empty=empty,
        score=score,
        target=target_name,
        layer=layer,
        method=method,
        branches=None if switched_on is None else tuple(sorted(switched_on)),
    )


def _integrated_gradients(
    forward: Callable[[Tensor], Tensor], inputs: Tensor, target: int | None, n_steps: int
) -> Tensor:
    """Pixel attributions against the mean-colour clip (zero after normalisation), summed over
    colour channels and kept where positive (evidence for the target), per frame."""
    attr = IntegratedGradients(forward).attribute(
        inputs,
        baselines=torch.zeros_like(inputs),
        target=target,
        n_steps=n_steps,
        internal_batch_size=max(1, min(n_steps, 8)),
    )  # (1, 3, T, H, W)
    return F.relu(attr[0].sum(dim=0))  # (T, H, W)


def normalize_maps(
    raw: Tensor, size: tuple[int, int], mode: str = "tracklet"
) -> tuple[Tensor, Tensor]:
    """Upsample non-negative maps to frame size and scale them into ``[0, 1]``.

    Args:
        raw: maps, non-negative (NaN or inf count as zero).
        size: frame ``(H, W)``.
        mode: ``"tracklet"`` (divide by the largest value of all frames), ``"frame"`` (each frame
            by its own largest value) or ``"none"`` (clipped to ``[0, 1]`` only).

    Returns:
        ``(maps, empty)``: the maps, and which frames are all zero (left as zeros).

    Shape:
        raw: ``(T, h, w)``. Returns: ``(T, H, W)`` and ``(T,)``.
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {mode!r}")
    raw = torch.nan_to_num(raw.float(), nan=0.0, posinf=0.0, neginf=0.0).clamp_min(0.0)
    if tuple(raw.shape[-2:]) != tuple(size):
        raw = F.interpolate(raw[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        raw = raw.clamp_min(0.0)  # bilinear weights are non-negative; this guards rounding only
    peaks = raw.amax(dim=(1, 2))  # (T,)
    empty = ~(peaks > 0)
    if mode == "tracklet":
        scale = peaks.max()
        maps = raw / scale if scale > 0 else torch.zeros_like(raw)
    elif mode == "frame":
        maps = raw / torch.where(empty, torch.ones_like(peaks), peaks)[:, None, None]
    else:
        maps = raw
    return maps.clamp(0.0, 1.0), empty

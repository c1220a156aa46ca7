"""The dashboard's query embeddings (``app.resources.query_features``): the gallery's own rows
where every query is a gallery tracklet (AP3D's protocol), a gallery of the queries otherwise;
either way the embedding the queries get when embedded on their own."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from strf_core.demo import MODELS_DIR, load_model, model_gallery
from strf_core.synth import generate

pytest.importorskip("streamlit")
from app import resources as R

MODEL = MODELS_DIR / "tiny" / "strf"  # 64x32 clips: the cheapest shipped model to embed with


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("queries") / "tiny"
    generate(root, preset="tiny", seed=5, size=(128, 64), workers=1, progress=False)
    return root


@pytest.mark.parametrize("protocol", ["ap3d", "torchreid"])
def test_query_features_are_each_querys_own_embedding(world, tmp_path, protocol):
    ws = R.custom_workspace((str(MODEL),), "mars", str(world), 0, protocol)
    gallery = set(ws.dataset.gallery)
    inside = [q in gallery for q in ws.dataset.query]
    # AP3D's gallery holds the queries (the rows path), torchreid's none of them (a gallery
    # of the queries): both paths are exercised.
    assert all(inside) if protocol == "ap3d" else not any(inside)
    label = next(iter(ws.models))
    got = R.query_features(ws, label)
    model = load_model(MODEL)
    alone = model_gallery(ws.dataset.query, model, tmp_path).features(model.model)
    assert got.shape == alone.shape == (len(ws.dataset.query), alone.shape[1])
    # Each query's row is its own embedding: a shuffled or shifted row is another tracklet's.
    assert torch.allclose(got, alone, atol=1e-4)
    nearest = torch.cdist(got, alone).argmin(dim=1)
    assert nearest.tolist() == list(range(len(alone)))


def test_query_rows_are_found_wherever_the_queries_are_in_the_gallery(world, tmp_path):
    """The rows are looked up by tracklet, not assumed to lead the gallery (as AP3D's do)."""
    ws = R.custom_workspace((str(MODEL),), "mars", str(world), 0, "ap3d")
    label = next(iter(ws.models))
    model = ws.models[label]
    features = ws.galleries[label].features(model.model)
    flipped = model_gallery(ws.dataset.gallery[::-1], model, tmp_path)  # installed: no embedding
    flipped.install(model.model, features.flip(0))
    dataset = SimpleNamespace(query=ws.dataset.query, gallery=ws.dataset.gallery[::-1])
    reversed_ws = dataclasses.replace(
        ws, key=ws.key + ":reversed", dataset=dataset, galleries={label: flipped}
    )
    assert torch.equal(R.query_features(reversed_ws, label), R.query_features(ws, label))

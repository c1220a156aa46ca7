"""Backbones, inflation, the re-ID head, the model interface and the model registry."""

from strf_core.models.head import ReIDHead
from strf_core.models.inflate import inflate_state_dict, load_2d_weights
from strf_core.models.interface import AttnLayer, ReIDModel, ReIDOutput
from strf_core.models.registry import (
    build_model,
    c2d_resnet50,
    c2d_resnet_tiny,
    count_parameters,
    i3d_resnet50,
    i3d_resnet_tiny,
    list_models,
    p3da_resnet50,
    p3da_resnet_tiny,
    p3db_resnet50,
    p3db_resnet_tiny,
    p3dc_resnet50,
    p3dc_resnet_tiny,
    parameter_table,
    unit_parameter_table,
)
from strf_core.models.resnet3d import TEMPORAL_KINDS, Bottleneck3D, ResNet3D
from strf_core.models.units import UNIT_NAMES, UnitLayers, strf_layer, unit_layers, unit_name

__all__ = [
    "TEMPORAL_KINDS",
    "UNIT_NAMES",
    "AttnLayer",
    "Bottleneck3D",
    "ReIDHead",
    "ReIDModel",
    "ReIDOutput",
    "ResNet3D",
    "UnitLayers",
    "build_model",
    "c2d_resnet50",
    "c2d_resnet_tiny",
    "count_parameters",
    "i3d_resnet50",
    "i3d_resnet_tiny",
    "inflate_state_dict",
    "list_models",
    "load_2d_weights",
    "p3da_resnet50",
    "p3da_resnet_tiny",
    "p3db_resnet50",
    "p3db_resnet_tiny",
    "p3dc_resnet50",
    "p3dc_resnet_tiny",
    "parameter_table",
    "strf_layer",
    "unit_layers",
    "unit_name",
    "unit_parameter_table",
]

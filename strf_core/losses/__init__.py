"""Losses of the training objective (eq. 9)."""

from strf_core.losses.reid import BatchHardTripletLoss, ReIDLoss, cosine_distance_matrix

__all__ = ["BatchHardTripletLoss", "ReIDLoss", "cosine_distance_matrix"]

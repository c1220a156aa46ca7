"""Non-learned baselines: how far a dataset can be matched without any training."""

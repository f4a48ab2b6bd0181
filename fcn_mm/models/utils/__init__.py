"""Building blocks shared by models (ResLayer, ...)."""

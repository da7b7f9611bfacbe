"""edgeseg.models."""

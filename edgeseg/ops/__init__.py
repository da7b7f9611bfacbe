"""edgeseg.ops."""

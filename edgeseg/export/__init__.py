"""edgeseg.export."""

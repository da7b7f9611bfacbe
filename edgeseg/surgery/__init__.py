"""edgeseg.surgery."""

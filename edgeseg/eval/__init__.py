"""edgeseg.eval."""

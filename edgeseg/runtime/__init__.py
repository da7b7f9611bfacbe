"""edgeseg.runtime."""

"""edgeseg.runtime.backends."""

"""edgeseg.calibration."""

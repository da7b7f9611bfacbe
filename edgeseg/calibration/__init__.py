"""edgeseg.calibration."""
from edgeseg.calibration.fp16 import convert_fp16 as convert_fp16

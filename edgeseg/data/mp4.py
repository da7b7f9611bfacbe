"""Write RGB frames to an mp4 file with PyAV (H.264, or MPEG-4 part 2) or, failing that, OpenCV.

Both are optional (`pip install 'edgeseg[video]'`) and imported only when a clip is written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import missing_extra


class Mp4Writer:
    """`write(rgb)` frames of one size, then `close()`. Height and width must be even (yuv420p)."""

    def __init__(self, path: Path, width: int, height: int, fps: float = 25.0) -> None:
        self.path, self.width, self.height = path, width, height
        self._av: Any = None
        self._cv: Any = None
        try:
            import av

            self._open_av(av, fps)
            return
        except ImportError:
            pass
        try:
            import cv2
        except ImportError:
            raise missing_extra("PyAV or OpenCV (to write mp4 clips)", "video") from None
        self._cv = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        self._cv2 = cv2

    def _open_av(self, av: Any, fps: float) -> None:
        from fractions import Fraction

        self._av = av.open(str(self.path), mode="w")
        codecs = av.codecs_available
        codec = "libx264" if "libx264" in codecs else "mpeg4"
        self._stream = self._av.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._frame_cls = av.VideoFrame

    def write(self, rgb: np.ndarray) -> None:
        if self._av is not None:
            frame = self._frame_cls.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            for packet in self._stream.encode(frame):
                self._av.mux(packet)
        else:
            self._cv.write(self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._av is not None:
            for packet in self._stream.encode():
                self._av.mux(packet)
            self._av.close()
        else:
            self._cv.release()

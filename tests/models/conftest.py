"""Model tests share 2 CPU cores with everything else: one torch thread avoids oversubscription."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)

"""Named defaults in one place; the CLI, the pipeline and the stages reuse them."""

from __future__ import annotations

DEFAULT_STYLE = "pop-ballad"
DEFAULT_SEED = 0
DEFAULT_LENGTH_S = 150.0  # 2:30
DEFAULT_MASTER_TARGET = "spotify"  # -14 LUFS integrated, -1 dBTP
SAMPLE_RATE = 44100

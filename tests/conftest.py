from __future__ import annotations

import numpy as np
import pytest

from tunesmith.render import RenderError, find_soundfont
from tunesmith.score import Note


def _have_soundfont() -> bool:
    try:
        find_soundfont()
    except RenderError:
        return False
    return True


HAVE_SOUNDFONT = _have_soundfont()
needs_soundfont = pytest.mark.skipif(
    not HAVE_SOUNDFONT, reason="no GM SoundFont installed (apt fluid-soundfont-gm)")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def hook() -> list[Note]:
    """A 4-bar major-key phrase in C (E D C D | E E E- | D D D- | E G G-)."""
    return [Note(0, 1, 64), Note(1, 1, 62), Note(2, 1, 60), Note(3, 1, 62), Note(4, 1, 64),
            Note(5, 1, 64), Note(6, 2, 64), Note(8, 1, 62), Note(9, 1, 62), Note(10, 2, 62),
            Note(12, 1, 64), Note(13, 1, 67), Note(14, 2, 67)]

"""Originality guard: does a melody repeat 8 or more consecutive notes of a training song?

A run of notes is compared by its shape only, so a copy in another key or octave is still
caught: the 7 pitch intervals and the 7 inter-onset durations (sixteenth-note steps, rests
included) between 8 consecutive notes. Every such 8-note window of the training songs (POP909
001-800, the melody model's training data) is hashed to 64 bits; the sorted, de-duplicated
hashes ship as `models/melody-ngrams.npz`. A melody matches over `k + 7` notes when `k`
consecutive windows of it are found in the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.compose.melody_model import MODEL_DIR
from tunesmith.errors import TunesmithError
from tunesmith.score import Note

NGRAM_NOTES = 8
INDEX_FILE = "melody-ngrams.npz"
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MAX_IOI_STEPS = 255


class OriginalityError(TunesmithError):
    """The shipped n-gram index is missing or damaged (reinstall tunesmith)."""


def _tokens(notes: Sequence[Note]) -> np.ndarray:
    """One 16-bit token per consecutive note pair: interval (+128) and inter-onset steps."""
    if len(notes) < 2:
        return np.zeros(0, dtype=np.uint64)
    pitch = np.array([n.pitch for n in notes], dtype=np.int64)
    onset = np.array([int(round(n.start_beat * 4)) for n in notes], dtype=np.int64)
    interval = np.clip(np.diff(pitch), -127, 127) + 128
    ioi = np.clip(np.diff(onset), 0, _MAX_IOI_STEPS)
    return (interval * 256 + ioi).astype(np.uint64)


def window_hashes(notes: Sequence[Note], n: int = NGRAM_NOTES) -> np.ndarray:
    """64-bit hash of every window of `n` consecutive notes (FNV-1a over its n-1 pair tokens)."""
    tok = _tokens(notes)
    k = n - 1
    if len(tok) < k:
        return np.zeros(0, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(tok, k)
    h = np.full(len(windows), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(k):
            for shift in (np.uint64(0), np.uint64(8)):
                h ^= (windows[:, i] >> shift) & np.uint64(0xFF)
                h *= _FNV_PRIME
    return h


def build_index(melodies: Iterable[Sequence[Note]]) -> np.ndarray:
    """Sorted unique window hashes of many melodies."""
    parts = [window_hashes(m) for m in melodies]
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(np.concatenate(parts))


@dataclass(frozen=True, slots=True)
class Match:
    """The longest run shared with the index: its length in notes and where it starts."""

    notes: int
    start: int  # index of its first note in the melody checked

    @property
    def found(self) -> bool:
        return self.notes >= NGRAM_NOTES


NO_MATCH = Match(0, -1)


class OriginalityIndex:
    """Hashes of every 8-note window of the training melodies."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.hashes = np.asarray(hashes, dtype=np.uint64)

    @classmethod
    def load(cls, path: Path | None = None) -> OriginalityIndex:
        try:
            with np.load(path or MODEL_DIR / INDEX_FILE) as data:
                hashes = data["hashes"]
        except (OSError, ValueError, KeyError) as exc:
            raise OriginalityError(f"cannot load the originality index: {exc}") from exc
        return cls(hashes)

    def __len__(self) -> int:
        return len(self.hashes)

    def hits(self, notes: Sequence[Note]) -> np.ndarray:
        """Boolean per 8-note window of `notes`: found in the training songs."""
        h = window_hashes(notes)
        if not len(h) or not len(self.hashes):
            return np.zeros(len(h), dtype=bool)
        pos = np.searchsorted(self.hashes, h)
        pos = np.minimum(pos, len(self.hashes) - 1)
        return self.hashes[pos] == h

    def longest_match(self, notes: Sequence[Note]) -> Match:
        """Longest run of consecutive notes shared with a training song (0 when under 8)."""
        hit = self.hits(notes)
        best = NO_MATCH
        run = 0
        for i, x in enumerate(hit):
            run = run + 1 if x else 0
            if run and run + NGRAM_NOTES - 1 > best.notes:
                best = Match(run + NGRAM_NOTES - 1, i - run + 1)
        return best

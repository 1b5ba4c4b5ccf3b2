"""POP909 songs as lead sheets on their own beat grid, for training and benchmarking the
harmoniser (never needed at run time).

One song folder `POP909/NNN/` holds `NNN.mid` (tracks MELODY, BRIDGE, PIANO, as performed, in
seconds), `beat_midi.txt` (beat times; column 2 marks strong beats, column 3 downbeats),
`chord_midi.txt` (start_s, end_s, label) and `key_audio.txt` (start_s, end_s, key). Times are
converted to beats by interpolating the beat times (beat 0 is the first annotated beat), so a
song's melody, chords and keys all sit on its annotated beat grid, bar lines included.

Split by song id (data README): 1-800 train, 801-850 validation, 851-909 test. Reading the
MIDI and finding the data folder is shared with `tunesmith.compose.pop909` (the melody model's
reader, which quantises to a sixteenth grid and keeps chords as pitch-class sets; the
harmoniser needs the beat grid as annotated and the chord labels themselves).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.compose.harmony_features import BeatGrid
from tunesmith.compose.harmony_vocab import parse_pop909_label
from tunesmith.compose.pop909 import (
    TEST_IDS,
    TRAIN_IDS,
    VALIDATION_IDS,
    DatasetError,
    _melody_seconds,
    default_data_dir,
    pop909_root,
)
from tunesmith.score import Note
from tunesmith.theory import ChordSymbol, Key, parse_pitch_class

__all__ = ["TEST_IDS", "TRAIN_IDS", "VALIDATION_IDS", "DatasetError", "PopSong", "TimedChord",
           "TimedKey", "default_data_dir", "iter_songs", "load_song"]


@dataclass(frozen=True)
class TimedChord:
    start_beat: float
    end_beat: float
    chord: ChordSymbol | None  # None: no chord ("N")


@dataclass(frozen=True)
class TimedKey:
    start_beat: float
    end_beat: float
    key: Key


@dataclass(frozen=True)
class PopSong:
    song_id: int
    grid: BeatGrid
    melody: tuple[Note, ...]  # in beats, beat 0 = the first annotated beat
    chords: tuple[TimedChord, ...]
    keys: tuple[TimedKey, ...]

    def key_at(self, beat: float) -> Key:
        for k in self.keys:
            if k.start_beat <= beat < k.end_beat:
                return k.key
        return min(self.keys, key=lambda k: min(abs(k.start_beat - beat), abs(k.end_beat - beat))).key

    def beat_chords(self) -> list[ChordSymbol | None]:
        """The chord sounding longest over each beat [b, b+1) (None where no chord is)."""
        out: list[ChordSymbol | None] = [None] * self.grid.n_beats
        best = np.zeros(self.grid.n_beats)
        for c in self.chords:
            lo = max(0, int(np.floor(c.start_beat)))
            hi = min(self.grid.n_beats, int(np.ceil(c.end_beat)))
            for b in range(lo, hi):
                ov = min(c.end_beat, b + 1) - max(c.start_beat, b)
                if ov > best[b] + 1e-9:
                    best[b] = ov
                    out[b] = c.chord
        return out

    def beat_keys(self) -> list[Key]:
        return [self.key_at(b + 0.5) for b in range(self.grid.n_beats)]


def load_song(folder: Path) -> PopSong:
    """One POP909 song on its annotated beat grid."""
    sid = int(folder.name)
    try:
        beats = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
        chord_lines = (folder / "chord_midi.txt").read_text().splitlines()
        key_lines = (folder / "key_audio.txt").read_text().splitlines()
    except OSError as exc:
        raise DatasetError(f"song {folder} is incomplete: {exc}") from exc
    times = beats[:, 0]
    period = float(np.median(np.diff(times)))
    idx = np.arange(len(times), dtype=float)

    def to_beat(t: float) -> float:
        if t < times[0]:
            return float((t - times[0]) / period)
        if t > times[-1]:
            return float(idx[-1] + (t - times[-1]) / period)
        return float(np.interp(t, times, idx))

    downbeat = beats[:, 2] == 1
    strong = (beats[:, 1] == 1) | downbeat
    grid = BeatGrid.from_flags(downbeat, strong)
    melody = tuple(Note(to_beat(a), to_beat(b) - to_beat(a), p) for a, b, p in _melody_seconds(folder / f"{folder.name}.mid"))
    chords = []
    for line in chord_lines:
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 3:
            continue
        chords.append(TimedChord(to_beat(float(parts[0])), to_beat(float(parts[1])),
                                 parse_pop909_label(parts[2])))
    keys = []
    for line in key_lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        name, _, mode = parts[2].partition(":")
        keys.append(TimedKey(to_beat(float(parts[0])), to_beat(float(parts[1])),
                             Key(parse_pitch_class(name)[0], "minor" if mode.startswith("min") else "major")))
    if not keys:
        raise DatasetError(f"song {folder} has no key annotation")
    return PopSong(sid, grid, melody, tuple(chords), tuple(keys))


def iter_songs(ids: range | list[int], data_dir: Path | None = None) -> Iterator[PopSong]:
    root = pop909_root(data_dir)
    for sid in ids:
        folder = root / f"{sid:03d}"
        if folder.is_dir():
            yield load_song(folder)

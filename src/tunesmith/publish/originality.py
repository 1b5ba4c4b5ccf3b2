"""originality.json: the longest stretch of the song's melody found in the training songs and in
reference files the artist names (MIDI or MusicXML), so an artist can show it is no copy.

Melodies are compared by shape, as `tunesmith.compose.originality` does: the pitch interval and
the inter-onset time (in sixteenths) between consecutive notes, so a copy in another key, octave
or tempo is still found. Against reference files the exact longest common run is computed
(dynamic programming), with and without the rhythm; against the training songs the shipped
8-note index answers (runs shorter than 8 notes are below what it can see).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.score import Note

log = logging.getLogger(__name__)

NOTABLE_RUN_NOTES = 8  # the run length the compose stage's guard rejects
_MELODY_NAMES = ("melody", "vocal", "vocals", "voice", "lead", "singer", "soprano")


class ReferenceFileError(TunesmithError):
    """A reference file passed with --against cannot be read."""


@dataclass(frozen=True, slots=True)
class RunMatch:
    notes: int  # notes in the longest shared run (0 or 2+)
    song_note: int  # index of its first note in the song's melody (-1: none)
    reference_note: int


def shape_tokens(notes: Sequence[Note], *, rhythm: bool = True) -> np.ndarray:
    """One integer per consecutive note pair: interval, and the inter-onset sixteenths."""
    if len(notes) < 2:
        return np.zeros(0, dtype=np.int64)
    pitch = np.array([n.pitch for n in notes], dtype=np.int64)
    onset = np.array([int(round(n.start_beat * 4)) for n in notes], dtype=np.int64)
    interval = np.clip(np.diff(pitch), -127, 127) + 128
    if not rhythm:
        return interval
    return interval * 1024 + np.clip(np.diff(onset), 0, 1023)


def longest_common_run(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int]:
    """(length, start in a, start in b) of the longest common contiguous run of tokens."""
    best, best_i, best_j = 0, -1, -1
    prev = np.zeros(len(b) + 1, dtype=np.int32)
    for i in range(len(a)):
        cur = np.zeros_like(prev)
        cur[1:] = np.where(b == a[i], prev[:-1] + 1, 0)
        j = int(cur.argmax())
        if cur[j] > best:
            best, best_i, best_j = int(cur[j]), i - int(cur[j]) + 1, j - int(cur[j])
        prev = cur
    return best, best_i, best_j


def compare(song: Sequence[Note], reference: Sequence[Note], *, rhythm: bool = True) -> RunMatch:
    length, i, j = longest_common_run(shape_tokens(song, rhythm=rhythm),
                                      shape_tokens(reference, rhythm=rhythm))
    if length == 0:
        return RunMatch(0, -1, -1)
    return RunMatch(length + 1, i, j)  # k shared steps join k + 1 notes


def skyline(notes: Sequence[Note]) -> list[Note]:
    """The top line of polyphonic notes: the highest note at each onset."""
    top: dict[float, Note] = {}
    for n in notes:
        key = round(n.start_beat, 3)
        if key not in top or n.pitch > top[key].pitch:
            top[key] = n
    return [top[k] for k in sorted(top)]


def reference_melody(path: Path) -> list[Note]:
    """The melody of a MIDI or MusicXML file: a track/part named like a melody, else the top
    line of every pitched part."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ReferenceFileError(f"reference file {path} does not exist")
    if suffix in (".mid", ".midi"):
        from tunesmith.score import read_score_midi

        score = read_score_midi(path)
        tracks = [t for t in score.tracks if not t.is_drum and t.notes]
        named = [t for t in tracks if t.name.strip().lower() in _MELODY_NAMES]
        notes = (named[0].notes if named else [n for t in tracks for n in t.notes])
        return skyline(notes)
    if suffix in (".musicxml", ".xml", ".mxl"):
        try:
            from music21 import converter

            doc = converter.parse(str(path))
        except Exception as exc:  # music21 raises many types for bad files
            raise ReferenceFileError(f"cannot read MusicXML file {path.name}: {exc}") from exc
        parts = list(doc.parts) or [doc]
        named = [p for p in parts if (p.partName or "").strip().lower() in _MELODY_NAMES]
        chosen = named[:1] or parts
        notes = []
        for part in chosen:
            for el in part.stripTies().flatten().notes:
                if type(el).__name__ == "ChordSymbol":
                    continue
                pitches = [p.midi for p in el.pitches]
                notes.append(Note(float(el.offset), float(el.quarterLength), max(pitches)))
        return skyline(notes)
    raise ReferenceFileError(
        f"{path.name}: reference melodies must be MIDI (.mid) or MusicXML (.musicxml, .xml, .mxl)")


def training_match(melody: Sequence[Note]) -> dict[str, Any]:
    """The longest run shared with the training songs, or why it cannot be told."""
    try:
        from tunesmith.compose.originality import NGRAM_NOTES, OriginalityIndex
    except ImportError as exc:
        return {"available": False, "reason": f"the training-song index is not installed ({exc})"}
    try:
        index = OriginalityIndex.load()
    except TunesmithError as exc:
        return {"available": False, "reason": str(exc)}
    match = index.longest_match(list(melody))
    found = match.notes >= NGRAM_NOTES
    return {
        "available": True,
        "index": "8-note windows of the melody model's training songs (POP909 001-800)",
        "windows_indexed": len(index),
        "longest_match_notes": match.notes if found else f"under {NGRAM_NOTES}",
        "song_note_index": match.start if found else None,
        "verdict": (f"{match.notes} consecutive notes (intervals and rhythm) also occur in a "
                    "training song" if found else
                    f"no run of {NGRAM_NOTES} or more notes is shared with any training song"),
    }


def originality_report(melody: Sequence[Note], *, references: Sequence[Path] = (),
                       beats_per_bar: int = 4) -> dict[str, Any]:
    refs = []
    for path in references:
        ref = reference_melody(path)
        exact = compare(melody, ref, rhythm=True)
        contour = compare(melody, ref, rhythm=False)
        entry: dict[str, Any] = {
            "file": path.name, "reference_notes": len(ref),
            "longest_match_notes": exact.notes,
            "longest_interval_match_notes": contour.notes,
        }
        if exact.notes:
            start = melody[exact.song_note].start_beat
            entry["song_position"] = {"bar": int(start // beats_per_bar) + 1,
                                      "beat": round(start % beats_per_bar + 1, 2)}
            entry["reference_start_beat"] = round(ref[exact.reference_note].start_beat, 2)
        entry["verdict"] = (
            f"a run of {exact.notes} notes with the same intervals and rhythm: worth a listen"
            if exact.notes >= NOTABLE_RUN_NOTES else
            f"no shared run of {NOTABLE_RUN_NOTES} or more notes (longest {exact.notes})")
        refs.append(entry)
    return {
        "method": ("melodies compared by shape: pitch interval and inter-onset time in "
                   "sixteenths between consecutive notes (key, octave and tempo do not matter)"),
        "melody_notes": len(melody),
        "training_songs": training_match(melody),
        "references": refs,
    }

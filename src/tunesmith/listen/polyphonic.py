"""Full recordings: the notes of a whole mix, its lead melody, chords per beat, tempo and key.

    audio ──engine──► note posteriors (basic-pitch ONNX model)
                        ├─ decode_notes ────► every note of the mix (PolyNote)
                        ├─ extract_melody ──► the lead line (SungNote, Viterbi over pitches)
                        └─ estimate_beats ──► tempo + beat times (+ the audio's onsets)
    notes + beats + key ──recognize_chords──► a chord symbol per beat (HMM over templates)

`transcribe_polyphonic` runs all of it; the pieces live in `tunesmith.listen.poly`. This is what
`restyle` uses on audio: a song in, its lead sheet out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.errors import NoMelodyError
from tunesmith.listen.key import KeyEstimate, best_key, key_correlations
from tunesmith.listen.poly.beats import estimate_beats
from tunesmith.listen.poly.chords import (
    DEFAULT_CHORD_PARAMS,
    ChordParams,
    TimedChord,
    melody_mask,
    recognize_chords,
)
from tunesmith.listen.poly.engine import (
    DEFAULT_ENGINE,
    MODEL_SAMPLE_RATE,
    EngineUnavailableError,
    NoteEngine,
    make_engine,
    to_model_rate,
)
from tunesmith.listen.poly.melody import DEFAULT_MELODY_PARAMS, MelodyParams, extract_melody
from tunesmith.listen.poly.notes import (
    DEFAULT_NOTE_PARAMS,
    NoteParams,
    PolyNote,
    analyse_spectrum,
    decode_notes,
    decoded_tuning_cents,
    to_poly_notes,
)
from tunesmith.listen.transcriber import check_audio
from tunesmith.score import SungNote
from tunesmith.theory import Key

log = logging.getLogger(__name__)

__all__ = [
    "EngineUnavailableError",
    "PolyNote",
    "PolyTranscription",
    "TimedChord",
    "chords_text",
    "estimate_mix_key",
    "transcribe_polyphonic",
]

DEFAULT_BEATS_PER_BAR = 4
DEFAULT_MELODY_VELOCITY = 90
MIN_NOTE_TIME_S = 0.5  # less than this much sounding note time in all: no music heard


@dataclass
class PolyTranscription:
    """What was heard in a full recording. Times are seconds of the recording.

    `notes` holds every note of the mix (melody included); `melody` the lead line; `chords` one
    span per chord change, on beats; `beat_times_s` the beat grid over the whole recording and
    `downbeat_s` its first bar line (where chords change most)."""

    notes: list[PolyNote]
    melody: list[SungNote]
    chords: list[TimedChord]
    tempo_bpm: float
    beat_times_s: list[float]
    downbeat_s: float
    key: Key
    key_confidence: float
    duration_s: float
    tuning_cents: float = 0.0
    tempo_confidence: float = 0.0
    beats_per_bar: int = DEFAULT_BEATS_PER_BAR
    melody_velocities: list[int] = field(default_factory=list)

    @property
    def accompaniment(self) -> list[PolyNote]:
        """The notes that are not the melody's."""
        mask = melody_mask(self.notes, self.melody)
        return [n for n, m in zip(self.notes, mask, strict=True) if not m]

    def chord_at(self, time_s: float) -> TimedChord | None:
        for c in self.chords:
            if c.start_s <= time_s < c.end_s:
                return c
        return None

    def chord_symbols(self) -> list[tuple[float, float, str]]:
        """(start_s, end_s, symbol) spelled for the key (Bb in F major, A# in B major);
        "N" where no chord sounds."""
        flats = self.key.uses_flats
        return [(c.start_s, c.end_s, c.chord.symbol(flats=flats) if c.chord else "N")
                for c in self.chords]


def chords_text(t: PolyTranscription) -> str:
    """The chord chart as text: '#' comment lines with key and tempo, then one tab-separated
    line per chord, `start_s end_s symbol` (as POP909's chord files, with symbols like Am7)."""
    lines = [f"# key: {t.key.name} (confidence {t.key_confidence:.2f})",
             f"# tempo: {t.tempo_bpm:g} bpm, first downbeat at {t.downbeat_s:.3f} s",
             "# start_s\tend_s\tchord"]
    lines += [f"{a:.3f}\t{b:.3f}\t{symbol}" for a, b, symbol in t.chord_symbols()]
    return "\n".join(lines) + "\n"


def estimate_mix_key(notes: Sequence[PolyNote]) -> KeyEstimate:
    """Key of a mix: Temperley profiles (as `listen.estimate_key`) against the pitch classes of
    all its notes, each weighted by duration and loudness."""
    profile = np.zeros(12)
    for n in notes:
        profile[n.midi % 12] += max(n.duration_s, 0.0) * (n.velocity / 127.0) ** 2
    if profile.sum() <= 0:
        return KeyEstimate(Key(0, "major"), 0.0)
    return best_key(key_correlations(profile / profile.sum()))


def downbeat_index(beats: np.ndarray, chords: Sequence[TimedChord], *,
                   beats_per_bar: int = DEFAULT_BEATS_PER_BAR) -> int:
    """Index (0..beats_per_bar-1) of the first downbeat: the bar phase on which most chord
    changes fall (ties: the earliest)."""
    if beats.size == 0 or not chords:
        return 0
    votes = np.zeros(beats_per_bar)
    for c in chords[1:]:
        i = int(np.argmin(np.abs(beats - c.start_s)))
        votes[i % beats_per_bar] += 1.0
    return int(np.argmax(votes))


def transcribe_polyphonic(audio: np.ndarray, sample_rate: int, *,
                          engine: NoteEngine | None = None,
                          key: Key | None = None,
                          beats_per_bar: int = DEFAULT_BEATS_PER_BAR,
                          note_params: NoteParams = DEFAULT_NOTE_PARAMS,
                          melody_params: MelodyParams = DEFAULT_MELODY_PARAMS,
                          chord_params: ChordParams = DEFAULT_CHORD_PARAMS) -> PolyTranscription:
    """Transcribe a full recording (a band, a piano, a produced song).

    A `key` given by the user replaces the estimate (confidence 1). Raises `NoMelodyError` for
    silence or audio without notes, `InputAudioError` for unusable audio and
    `EngineUnavailableError` when the note model is not installed.
    """
    x = check_audio(audio, sample_rate=int(sample_rate))
    duration_s = x.size / float(sample_rate)
    y = to_model_rate(x, sample_rate=int(sample_rate))
    act = (engine or make_engine(DEFAULT_ENGINE)).activations(y)
    decoded = decode_notes(act, note_params)
    tuning = decoded_tuning_cents(act, decoded)
    spectrum = analyse_spectrum(y, act.n_frames, low_midi=melody_params.low_midi,
                                high_midi=melody_params.high_midi, tuning_cents=tuning)
    notes = to_poly_notes(act, decoded, spectrum.salience)
    if sum(n.duration_s for n in notes) < MIN_NOTE_TIME_S:
        raise NoMelodyError("no notes were heard in the recording (is it noise or speech?)")
    melody = extract_melody(act, spectrum, melody_params)
    grid = estimate_beats(act.onset, act.frame_rate_hz, duration_s=duration_s,
                          note_posterior=act.note, audio=y, sample_rate=MODEL_SAMPLE_RATE)
    if key is None:
        found = estimate_mix_key(notes)
        key, key_confidence = found.key, found.confidence
    else:
        key_confidence = 1.0
    beats = grid.beat_times_s
    end = max(duration_s, float(beats[-1]) + 60.0 / grid.tempo_bpm) if beats.size else duration_s
    chords = [TimedChord(c.start_s, min(c.end_s, round(duration_s, 4)), c.chord)
              for c in recognize_chords(notes, np.append(beats, end), melody=melody,
                                        params=chord_params) if c.start_s < duration_s]
    first = downbeat_index(beats, chords, beats_per_bar=beats_per_bar)
    downbeat = float(beats[first]) if beats.size > first else 0.0
    velocities = _melody_velocities(melody, notes)
    log.info("heard %d notes, %d melody notes, %d chords; %s, %.1f bpm", len(notes), len(melody),
             len(chords), key.name, grid.tempo_bpm)
    return PolyTranscription(
        notes=notes, melody=melody, chords=chords, tempo_bpm=grid.tempo_bpm,
        beat_times_s=[float(b) for b in beats], downbeat_s=round(downbeat, 4), key=key,
        key_confidence=key_confidence, duration_s=round(duration_s, 4),
        tuning_cents=round(tuning, 1), tempo_confidence=grid.confidence,
        beats_per_bar=beats_per_bar, melody_velocities=velocities)


def _melody_velocities(melody: Sequence[SungNote], notes: Sequence[PolyNote]) -> list[int]:
    """Velocity of each melody note: that of the mix note it overlaps most on the same key."""
    if not notes:
        return [DEFAULT_MELODY_VELOCITY] * len(melody)
    on = np.array([n.onset_s for n in notes])
    off = np.array([n.offset_s for n in notes])
    key = np.array([n.midi for n in notes])
    vel = np.array([n.velocity for n in notes])
    out = []
    for m in melody:
        overlap = np.where(key == m.midi, np.minimum(off, m.offset_s) - np.maximum(on, m.onset_s), 0.0)
        i = int(np.argmax(overlap))
        out.append(int(vel[i]) if overlap[i] > 0 else DEFAULT_MELODY_VELOCITY)
    return out

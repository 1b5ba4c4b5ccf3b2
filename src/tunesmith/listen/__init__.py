"""The `listen` stage: a recording of one voice becomes notes, tempo and key.

    audio ──transcribe──► SungNotes (seconds, fractional MIDI)
                             ├─ estimate_key ──► Key
                             ├─ estimate_meter ─► 4/4, 3/4 or 6/8 (unless given)
                             ├─ estimate_tempo ─► tempo + first downbeat
                             └─ quantize ──────► Notes (beats, integer MIDI)

`listen()` runs all of it; each step is also usable on its own. File reading lives in
`load_audio`; everything else takes arrays and an explicit `sample_rate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tunesmith.listen.audio import MAX_INPUT_DURATION_S, load_audio
from tunesmith.listen.key import KeyEstimate, estimate_key
from tunesmith.listen.meter import MeterEstimate, estimate_meter
from tunesmith.listen.polyphony import PolyphonyEstimate, estimate_polyphony
from tunesmith.listen.quantization import (
    DEFAULT_GRID_BEATS,
    QuantizeError,
    note_velocities,
    quantize,
)
from tunesmith.listen.streaming import StreamingTranscriber, StreamUpdate
from tunesmith.listen.tempo import TempoEstimate, estimate_downbeat, estimate_tempo
from tunesmith.listen.transcriber import transcribe
from tunesmith.listen.tuning import estimate_tuning_cents, follow_tuning_cents
from tunesmith.score import Note, SungNote
from tunesmith.theory import Key

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_GRID_BEATS",
    "MAX_INPUT_DURATION_S",
    "KeyEstimate",
    "Listening",
    "MeterEstimate",
    "PolyphonyEstimate",
    "QuantizeError",
    "StreamUpdate",
    "StreamingTranscriber",
    "TempoEstimate",
    "estimate_downbeat",
    "estimate_key",
    "estimate_meter",
    "estimate_polyphony",
    "estimate_tempo",
    "estimate_tuning_cents",
    "follow_tuning_cents",
    "listen",
    "load_audio",
    "quantize",
    "transcribe",
]


@dataclass
class Listening:
    """What `listen` heard: raw performed notes, the quantised melody and the musical context."""

    sung_notes: list[SungNote]
    melody: list[Note]
    key: Key
    key_confidence: float
    tempo_bpm: float
    downbeat_s: float
    tuning_cents: float
    beats_per_bar: int = 4
    tempo_confidence: float = 0.0
    grid_beats: float = DEFAULT_GRID_BEATS
    compound: bool = False  # 6/8: three beats to the bar felt as two dotted-quarter pulses
    meter_confidence: float = 1.0  # 1 when the meter was given, else the detector's probability
    meter_probabilities: dict[str, float] | None = None  # per time signature, when detected

    @property
    def meter(self) -> str:
        """The time signature the melody was placed in, e.g. "4/4", "3/4" or "6/8"."""
        return f"{2 * self.beats_per_bar}/8" if self.compound else f"{self.beats_per_bar}/4"


def listen(audio: np.ndarray, *, sample_rate: int, tempo_bpm: float | None = None,
           key: Key | None = None, beats_per_bar: int | None = None, compound: bool = False,
           grid_beats: float = DEFAULT_GRID_BEATS) -> Listening:
    """Transcribe a hummed/sung/whistled melody and place it in time, meter and key.

    A `tempo_bpm` or `key` given by the user replaces the estimate (confidence 1). The meter is
    detected (4/4, 3/4 or 6/8, `estimate_meter`) unless `beats_per_bar` is given (6/8 is
    `beats_per_bar=3, compound=True`). Raises NoMelodyError when nothing melodic is heard,
    InputAudioError for unusable audio.
    """
    sung = transcribe(audio, sample_rate=sample_rate)
    tuning = estimate_tuning_cents(sung)
    if key is None:
        found = estimate_key(sung)
        key, key_confidence = found.key, found.confidence
    else:
        key_confidence = 1.0
    velocities = note_velocities(audio, sample_rate=sample_rate, notes=sung)
    meter: MeterEstimate | None = None
    if beats_per_bar is None:
        meter = estimate_meter(sung, velocities=velocities)
        beats_per_bar, compound = meter.beats_per_bar, meter.compound
        log.info("meter %s (probability %.2f; %s)", meter.time_signature, meter.confidence,
                 ", ".join(f"{m} {p:.2f}" for m, p in meter.probabilities.items()))
    if tempo_bpm is None:
        tempo = estimate_tempo(sung, beats_per_bar=beats_per_bar)
        if meter is not None and (meter.beats_per_bar, meter.compound) != (4, False):
            # the detector's bars: its beat is a quarter note, its downbeat on its bar phase
            tempo = TempoEstimate(meter.tempo_bpm, meter.downbeat_s, tempo.confidence)
    else:
        if tempo_bpm <= 0:
            raise QuantizeError(f"the tempo must be a positive number of beats per minute, not {tempo_bpm}")
        downbeat = estimate_downbeat(sung, tempo_bpm=tempo_bpm, beats_per_bar=beats_per_bar)
        tempo = TempoEstimate(float(tempo_bpm), downbeat, 1.0)
    # Pitches are read against the singer's own tuning as it drifts along the take.
    melody = quantize(sung, tempo_bpm=tempo.tempo_bpm, downbeat_s=tempo.downbeat_s,
                      grid_beats=grid_beats, tuning_cents=follow_tuning_cents(sung),
                      velocities=velocities)
    log.info("heard %d notes: %s, %.1f bpm, tuning %+.0f cents", len(sung), key.name,
             tempo.tempo_bpm, tuning)
    return Listening(sung_notes=sung, melody=melody, key=key, key_confidence=key_confidence,
                     tempo_bpm=tempo.tempo_bpm, downbeat_s=tempo.downbeat_s, tuning_cents=tuning,
                     beats_per_bar=beats_per_bar, tempo_confidence=tempo.confidence,
                     grid_beats=grid_beats, compound=compound,
                     meter_confidence=meter.confidence if meter else 1.0,
                     meter_probabilities=meter.probabilities if meter else None)

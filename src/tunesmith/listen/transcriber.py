"""Audio of one voice (hum, singing, whistle) to performed notes."""

from __future__ import annotations

import logging

import numpy as np

from tunesmith.errors import InputAudioError, NoMelodyError
from tunesmith.listen.denoise import FRAME as STFT_FRAME
from tunesmith.listen.denoise import reduce_noise, stft
from tunesmith.listen.dereverb import estimate_room, suppress_late_reverb
from tunesmith.listen.notes import (
    DEFAULT_SEGMENT_PARAMS,
    SegmentParams,
    for_reverberant_take,
    segment_notes,
)
from tunesmith.listen.pitch import INTERNAL_SAMPLE_RATE, prepare, track_pitch
from tunesmith.listen.polyphony import check_monophonic
from tunesmith.score import SungNote

log = logging.getLogger(__name__)

SILENCE_PEAK_DBFS = -60.0
"""A recording whose loudest sample stays under this level is treated as silence."""


def as_mono(audio: np.ndarray) -> np.ndarray:
    """A 1-D float32 signal from a mono or (frames, channels) / (channels, frames) array."""
    x = np.asarray(audio)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[0] >= x.shape[1] else x.mean(axis=0)
    elif x.ndim != 1:
        raise InputAudioError(f"audio must be a mono or stereo signal, not a {x.ndim}-D array")
    return x.astype(np.float32, copy=False)


def check_audio(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Validate and return mono float32 audio; raise a musician-readable error otherwise."""
    if not isinstance(sample_rate, int | np.integer) or sample_rate < 1000:
        raise InputAudioError(f"the sample rate {sample_rate!r} is not a valid audio sample rate")
    x = as_mono(audio)
    if x.size == 0:
        raise InputAudioError("the recording is empty")
    if not np.all(np.isfinite(x)):
        raise InputAudioError("the recording holds invalid samples (NaN or infinity)")
    peak = float(np.max(np.abs(x)))
    if peak <= 10.0 ** (SILENCE_PEAK_DBFS / 20.0):
        raise NoMelodyError("the recording is silent")
    return x


def transcribe(audio: np.ndarray, *, sample_rate: int,
               params: SegmentParams = DEFAULT_SEGMENT_PARAMS,
               allow_polyphonic: bool = False) -> list[SungNote]:
    """Notes of a monophonic voice recording, timed in seconds as in the audio.

    Each note's pitch is the median of its voiced frames as a fractional MIDI number (a singer
    a little flat gets e.g. 59.7). Vibrato and slow drift stay inside one note; repeated notes
    separated by a breath, a consonant or an energy dip are separate notes. A take recorded in a
    reverberant room has its late reverberation subtracted first (`dereverb`); a dry one does not.
    Raises NoMelodyError for silence or audio without voiced notes, and PolyphonicInputError
    when the recording sounds like several instruments or voices at once (a full mix, chords),
    unless `allow_polyphonic` (then the notes follow whichever part is the most salient).
    """
    x = check_audio(audio, sample_rate=sample_rate)
    prepared = prepare(x, sample_rate=sample_rate)
    if not allow_polyphonic:
        check_monophonic(prepared, sample_rate=INTERNAL_SAMPLE_RATE)
    sr = INTERNAL_SAMPLE_RATE
    # one STFT serves the room check and noise reduction (short takes get neither)
    spec = stft(prepared, sample_rate=sr) if prepared.size >= 4 * STFT_FRAME else None
    room = None if spec is None else estimate_room(np.abs(spec) ** 2, sample_rate=sr)
    if room is None:
        clean = reduce_noise(prepared, sample_rate=sr, spec=spec)
        track = track_pitch(clean.audio, noisy=clean.noise is not None)
    else:  # a live room (see listen/dereverb.py): pitch, brightness and onset strength from
        # the take without its late reverberation, loudness from the take itself
        dry = suppress_late_reverb(prepared, room, sample_rate=sr, spec=spec)
        clean = reduce_noise(dry, sample_rate=sr)
        track = track_pitch(clean.audio, noisy=clean.noise is not None, levels=prepared)
        params = for_reverberant_take(params)
    notes = segment_notes(track, params)
    if not notes:
        raise NoMelodyError("no sung or hummed notes were found")
    log.info("transcribed %d notes from %.1f s of audio", len(notes), x.size / sample_rate)
    return notes

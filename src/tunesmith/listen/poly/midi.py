"""A full-recording transcription as a standard MIDI file a DAW reads.

The tempo map follows the heard beats (one tempo event per beat), so every beat of the
recording falls on a beat of the MIDI grid, the first downbeat on a bar line, and a note's time
in seconds is its time in the recording: the file lines up with the audio in a DAW.

Tracks (type 1): `conductor` (tempo map, 4/4, key signature), `chords` (chord symbols as text
events, no notes; `tunesmith.score.read_score_midi` reads them back), `melody` (the lead line)
and `accompaniment` (every other note of the mix).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tunesmith.listen.polyphonic import PolyTranscription

TICKS_PER_BEAT = 480
MELODY_PROGRAM = 53  # Voice Oohs: the lead as sung
ACCOMPANIMENT_PROGRAM = 0  # Acoustic Grand Piano
MIN_PREROLL_S = 0.02  # a first beat closer than this to the start of the recording sits on tick 0
NO_CHORD_TEXT = "N.C."


def beat_map(t: PolyTranscription) -> tuple[np.ndarray, np.ndarray]:
    """Knots (seconds, ticks) of the piecewise-linear time map: time 0, every beat, and one
    period past the end."""
    beats = np.asarray(t.beat_times_s, dtype=np.float64)
    period = 60.0 / t.tempo_bpm
    if beats.size == 0:
        end = max(t.duration_s, period)
        return np.array([0.0, end]), np.array([0.0, end / period * TICKS_PER_BEAT])
    first_down = int(np.argmin(np.abs(beats - t.downbeat_s)))
    bar = max(1, t.beats_per_bar)
    # Whole beats before the first heard beat: as many as put the first downbeat on a bar line,
    # at a tempo as close as possible to the song's (none if the song starts on a downbeat).
    if beats[0] < MIN_PREROLL_S and first_down % bar == 0:
        pre = 0
        beats = beats.copy()
        beats[0] = 0.0
    else:
        options = [p for p in range(1, 2 * bar + 1) if (p + first_down) % bar == 0]
        pre = min(options, key=lambda p: abs(np.log(max(beats[0], 1e-3) / p / period)))
    tail = beats[-1] + max(period, t.duration_s - beats[-1] + period)
    seconds = np.concatenate([[0.0] if pre else [], beats, [tail]])
    ticks = np.concatenate([[0.0] if pre else [], (pre + np.arange(beats.size)) * TICKS_PER_BEAT,
                            [(pre + beats.size - 1) * TICKS_PER_BEAT
                             + (tail - beats[-1]) / period * TICKS_PER_BEAT]])
    return seconds, ticks


def transcription_to_midi(t: PolyTranscription) -> object:
    """Build the `mido.MidiFile` (pure: nothing is written)."""
    import mido

    from tunesmith.score import DRUM_CHANNEL

    seconds, ticks = beat_map(t)

    def tick(s: float) -> int:
        if s <= seconds[-1]:
            return int(round(float(np.interp(s, seconds, ticks))))
        slope = (ticks[-1] - ticks[-2]) / (seconds[-1] - seconds[-2])
        return int(round(ticks[-1] + (s - seconds[-1]) * slope))

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    key_name = t.key.name
    conductor: list[tuple[int, int, object]] = [
        (0, 0, mido.MetaMessage("time_signature", numerator=t.beats_per_bar, denominator=4)),
        (0, 0, mido.MetaMessage("key_signature", key=_mido_key(t))),
        (0, 0, mido.MetaMessage("text", text=f"tunesmith:key={key_name}")),
    ]
    for i in range(len(seconds) - 1):
        beats_in = (ticks[i + 1] - ticks[i]) / TICKS_PER_BEAT
        us = int(round(1e6 * (seconds[i + 1] - seconds[i]) / max(beats_in, 1e-9)))
        conductor.append((int(round(ticks[i])), 0,
                          mido.MetaMessage("set_tempo", tempo=int(np.clip(us, 1, 16_777_215)))))
    midi.tracks.append(_track("conductor", conductor))

    flats = t.key.uses_flats
    chord_events: list[tuple[int, int, object]] = []
    for c in t.chords:
        text = c.chord.symbol(flats=flats) if c.chord is not None else NO_CHORD_TEXT
        chord_events.append((tick(c.start_s), 0, mido.MetaMessage("text", text=text)))
    if t.chords:
        chord_events.append((tick(t.chords[-1].end_s), 0, mido.MetaMessage("text", text="|end")))
    midi.tracks.append(_track("chords", chord_events))

    velocities = t.melody_velocities or [90] * len(t.melody)
    parts = [("melody", MELODY_PROGRAM,
              [(n.onset_s, n.offset_s, n.midi, v) for n, v in zip(t.melody, velocities, strict=True)]),
             ("accompaniment", ACCOMPANIMENT_PROGRAM,
              [(n.onset_s, n.offset_s, n.midi, n.velocity) for n in t.accompaniment])]
    channels = (c for c in range(16) if c != DRUM_CHANNEL)
    for (name, program, notes), ch in zip(parts, channels, strict=False):
        events: list[tuple[int, int, object]] = [
            (0, 0, mido.Message("program_change", channel=ch, program=program))]
        for on_s, off_s, pitch, vel in notes:
            on = tick(on_s)
            off = max(on + 1, tick(off_s))
            v = int(np.clip(vel, 1, 127))
            events.append((on, 2, mido.Message("note_on", channel=ch, note=int(pitch), velocity=v)))
            events.append((off, 1, mido.Message("note_off", channel=ch, note=int(pitch), velocity=0)))
        midi.tracks.append(_track(name, events))
    return midi


def _track(name: str, events: list[tuple[int, int, object]]) -> object:
    import mido

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for at, _order, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=at - now))  # type: ignore[attr-defined]
        now = at
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _mido_key(t: PolyTranscription) -> str:
    from tunesmith.theory import pitch_class_name

    name = pitch_class_name(t.key.tonic, flats=t.key.uses_flats)
    return name + ("m" if t.key.mode == "minor" else "")

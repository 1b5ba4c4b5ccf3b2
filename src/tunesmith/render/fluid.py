"""The FluidSynth backend: libfluidsynth through ctypes, float output, SoundFont loaded once.

The SoundFont is parsed and its samples read once, into a loader synth owned by the renderer.
Each stem is then played by a fresh synth that borrows that SoundFont (`fluid_synth_add_sfont`,
about 1 ms): a stem never depends on what was rendered before it. A reused synth does not give
that: a voice slot that played an earlier note starts its first block differently from a fresh
one (up to -38 dBFS in a lead line), and resets do not clear it.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.render.base import (
    DEFAULT_SAMPLE_RATE,
    RenderError,
    find_soundfont,
    output_buffer,
)
from tunesmith.score import Score, Track

log = logging.getLogger(__name__)

GAIN = 0.6
POLYPHONY = 256
MIDI_CHANNELS = 16
DRUM_CHANNEL = 9
DRUM_BANK = 128
MIN_NOTE_SAMPLES = 32
_FLUID_WARN = 2  # fluid_log_level


class _LibFluidSynth:
    """The libfluidsynth functions the renderer calls, typed once (plain ctypes calls, no
    per-call Python wrapper)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        vp, i, s, d = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_double

        def fn(name: str, restype: Any, *argtypes: Any) -> Any:
            f = getattr(lib, name)
            f.restype = restype
            f.argtypes = list(argtypes)
            return f

        self.new_settings = fn("new_fluid_settings", vp)
        self.delete_settings = fn("delete_fluid_settings", None, vp)
        self.setint = fn("fluid_settings_setint", i, vp, s, i)
        self.setnum = fn("fluid_settings_setnum", i, vp, s, d)
        self.new_synth = fn("new_fluid_synth", vp, vp)
        self.delete_synth = fn("delete_fluid_synth", None, vp)
        self.sfload = fn("fluid_synth_sfload", i, vp, s, i)
        self.get_sfont_by_id = fn("fluid_synth_get_sfont_by_id", vp, vp, i)
        self.add_sfont = fn("fluid_synth_add_sfont", i, vp, vp)
        self.remove_sfont = fn("fluid_synth_remove_sfont", i, vp, vp)
        self.program_select = fn("fluid_synth_program_select", i, vp, i, i, i, i)
        self.cc = fn("fluid_synth_cc", i, vp, i, i, i)
        self.noteon = fn("fluid_synth_noteon", i, vp, i, i, i)
        self.noteoff = fn("fluid_synth_noteoff", i, vp, i, i)
        self.write_float = fn("fluid_synth_write_float", i, vp, i, vp, i, i, vp, i, i)
        self.set_log_function = fn("fluid_set_log_function", vp, i, vp, vp)


def _load_library() -> _LibFluidSynth:
    try:
        import fluidsynth  # pyfluidsynth: finds and opens libfluidsynth
    except (ImportError, OSError) as exc:  # pyfluidsynth raises ImportError if lib is missing
        raise RenderError(
            "FluidSynth is not installed: apt-get install fluidsynth, pip install pyfluidsynth"
        ) from exc
    try:
        return _LibFluidSynth(fluidsynth._fl)
    except AttributeError as exc:
        raise RenderError(f"this FluidSynth library is too old (need 2.x): {exc}") from exc


def note_events(track: Track, *, seconds_per_beat: float, sample_rate: int, n_samples: int
                ) -> tuple[list[int], list[int], list[int]]:
    """The track's note-ons and note-offs in play order: (sample, pitch, velocity; 0 = off).
    Offs sort before ons at the same sample; notes starting outside the song are dropped, every
    note lasts at least MIN_NOTE_SAMPLES and ends before the last sample."""
    notes = track.notes
    if not notes:
        return [], [], []
    spb = seconds_per_beat * sample_rate
    on = np.rint(np.array([n.start_beat for n in notes]) * spb).astype(np.int64)
    off = np.rint(np.array([n.end_beat for n in notes]) * spb).astype(np.int64)
    pitch = np.array([n.pitch for n in notes], dtype=np.int64)
    vel = np.clip(np.array([int(n.velocity) for n in notes], dtype=np.int64), 1, 127)
    keep = (on >= 0) & (on < n_samples)
    on, off, pitch, vel = on[keep], off[keep], pitch[keep], vel[keep]
    off = np.maximum(on + MIN_NOTE_SAMPLES, np.minimum(off, n_samples - 1))
    t = np.concatenate([on, off])
    p = np.concatenate([pitch, pitch])
    v = np.concatenate([vel, np.zeros_like(vel)])
    is_on = np.concatenate([np.ones_like(on), np.zeros_like(off)])
    order = np.lexsort((v, p, is_on, t))  # by time, offs first, then pitch
    return t[order].tolist(), p[order].tolist(), v[order].tolist()


class FluidSynthRenderer:
    """Renders tracks with FluidSynth into float buffers (no 16-bit clipping). Loads the
    SoundFont once, in the constructor; `close()` frees it."""

    def __init__(self, soundfont: Path | None = None, *, sample_rate: int = DEFAULT_SAMPLE_RATE):
        self._fl = _load_library()
        self.sample_rate = sample_rate
        self.soundfont = soundfont or find_soundfont()
        if not Path(self.soundfont).is_file():
            raise RenderError(f"no SoundFont at {self.soundfont}")
        self.soundfont_loads = 0
        fl = self._fl
        self._settings = fl.new_settings()
        fl.setnum(self._settings, b"synth.gain", GAIN)
        fl.setnum(self._settings, b"synth.sample-rate", float(sample_rate))
        for name, value in ((b"synth.midi-channels", MIDI_CHANNELS),
                            (b"synth.reverb.active", 0), (b"synth.chorus.active", 0),
                            (b"synth.polyphony", POLYPHONY), (b"synth.cpu-cores", 1)):
            fl.setint(self._settings, name, value)
        self._loader = fl.new_synth(self._settings)
        if not self._loader:
            fl.delete_settings(self._settings)
            raise RenderError("FluidSynth could not start a synthesiser")
        sfid = fl.sfload(self._loader, str(self.soundfont).encode(), 0)
        self._sfont = fl.get_sfont_by_id(self._loader, sfid) if sfid >= 0 else None
        if not self._sfont:
            self.close()
            raise RenderError(f"FluidSynth could not load the SoundFont {self.soundfont}")
        self.soundfont_loads += 1

    def close(self) -> None:
        """Free the SoundFont and the synth holding it (safe to call twice)."""
        if getattr(self, "_loader", None):
            self._fl.delete_synth(self._loader)  # deletes the SoundFont it loaded
            self._loader = None
        if getattr(self, "_settings", None):
            self._fl.delete_settings(self._settings)
            self._settings = None

    def _stem_synth(self) -> tuple[int, int]:
        """A fresh synth playing the loaded SoundFont: (synth, SoundFont id in it)."""
        if not self._loader:
            raise RenderError("the renderer is closed")
        synth = self._fl.new_synth(self._settings)
        if not synth:
            raise RenderError("FluidSynth could not start a synthesiser")
        sfid = self._fl.add_sfont(synth, self._sfont)
        if sfid < 0:
            self._fl.delete_synth(synth)
            raise RenderError("FluidSynth could not share the loaded SoundFont")
        return synth, sfid

    def _drop_synth(self, synth: int) -> None:
        fl = self._fl
        # Hand the SoundFont back before deleting (the synth would free it). Removing it
        # resets every channel's preset, which FluidSynth reports as "No preset found"
        # warnings: expected here, so its warning log is off for that call.
        previous = fl.set_log_function(_FLUID_WARN, None, None)
        try:
            fl.remove_sfont(synth, self._sfont)
        finally:
            fl.set_log_function(_FLUID_WARN, previous, None)
        fl.delete_synth(synth)

    def render_track(self, track: Track, score: Score, *, sample_rate: int, n_samples: int,
                     out: np.ndarray | None = None) -> np.ndarray:
        if sample_rate != self.sample_rate:
            raise RenderError(f"renderer runs at {self.sample_rate} Hz, asked for {sample_rate} Hz")
        times, pitches, velocities = note_events(track, seconds_per_beat=score.seconds_per_beat,
                                                 sample_rate=sample_rate, n_samples=n_samples)
        out = output_buffer(out, n_samples)
        fl = self._fl
        write, noteon, noteoff = fl.write_float, fl.noteon, fl.noteoff
        left, right = out[0].ctypes.data, out[1].ctypes.data
        synth, sfid = self._stem_synth()
        try:
            ch = DRUM_CHANNEL if track.is_drum else 0
            bank = DRUM_BANK if track.is_drum else 0
            if fl.program_select(synth, ch, sfid, bank, track.program) != 0:
                if track.is_drum:  # kit missing: standard kit
                    fl.program_select(synth, ch, sfid, bank, 0)
                else:
                    log.warning("no preset %d in %s: track %s plays the default",
                                track.program, self.soundfont.name, track.name)
            fl.cc(synth, ch, 7, 100)
            fl.cc(synth, ch, 10, 64)  # pan is applied in the mix, stems are rendered centred
            # FluidSynth renders 64-sample blocks and applies an event at the next block start;
            # a fresh synth starts its block clock at sample 0 of the stem.
            now = 0
            for t, pitch, vel in zip(times, pitches, velocities, strict=True):
                if t > now:
                    write(synth, t - now, left, now, 1, right, now, 1)
                    now = t
                if vel:
                    noteon(synth, ch, pitch, vel)
                else:
                    noteoff(synth, ch, pitch)
            if n_samples > now:
                write(synth, n_samples - now, left, now, 1, right, now, 1)
        finally:
            self._drop_synth(synth)
        return out

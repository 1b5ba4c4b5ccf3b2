"""Transcribe a take while it is being recorded: audio in chunks, notes as they become final.

    stream = StreamingTranscriber(sample_rate=48000)
    for chunk in recording:                  # any chunk size, e.g. one websocket message
        update = stream.feed(chunk)
        show(update.final, update.provisional)
    update = stream.finish()                 # the rest; stream.notes holds the whole take

Each update re-analyses a short window with the offline transcriber's own stages (prepare,
noise reduction, pitch tracking, note segmentation), from CONTEXT_S before the last final note
to the newest audio. The recording-wide levels those stages measure (the noise spectrum, the
loud level the silence floor hangs from, the background level, the median onset strength and
loudness of voiced frames) come from everything heard so far rather than from the whole take,
which is all that differs from `transcribe`. A note is final once the analysis has run
FINAL_LAG_S past its end, and never changes afterwards; the notes after it are provisional (the
last one is usually the note being sung).

The polyphonic-input check runs on the finished audio as it goes; `finish()` raises
PolyphonicInputError as `transcribe` would (`polyphony` shows the running estimate, e.g. to
warn early in a user interface).

Cost: every update analyses the window again, so updates come at most every
`update_interval_s` and no more often than every WINDOW_COST_RATIO x the window length (a note
held for a long time makes the window long). Memory: the raw audio of the window, plus about
35 kB per second of history for the noise estimate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from tunesmith.errors import InputAudioError, NoMelodyError
from tunesmith.listen.audio import MAX_INPUT_DURATION_S
from tunesmith.listen.denoise import FRAME as NOISE_FRAME
from tunesmith.listen.denoise import HOP as NOISE_HOP
from tunesmith.listen.denoise import learn_noise, stft_power, subtract_noise
from tunesmith.listen.notes import (
    DEFAULT_SEGMENT_PARAMS,
    SegmentParams,
    _bridge_holes,
    segment_notes,
)
from tunesmith.listen.pitch import HOP_S, INTERNAL_SAMPLE_RATE, PitchTrack, prepare, track_pitch
from tunesmith.listen.polyphony import FRAME as POLY_FRAME
from tunesmith.listen.polyphony import HOP as POLY_HOP
from tunesmith.listen.polyphony import (
    FrameEvidence,
    PolyphonyEstimate,
    frame_evidence,
    frame_loudness,
    judge,
    polyphonic_error,
)
from tunesmith.listen.transcriber import SILENCE_PEAK_DBFS
from tunesmith.score import SungNote

log = logging.getLogger(__name__)

DEFAULT_UPDATE_INTERVAL_S = 0.25
CONTEXT_S = 1.0  # audio before the last final note that each update analyses again
FINAL_LAG_S = 0.4  # a note is final once the analysed audio reaches this far past its end
WINDOW_COST_RATIO = 0.1  # updates no more often than every 0.1 x the window length
NOISE_DECIMATION = 4  # the noise history keeps every 4th spectrum frame
POLYPHONY_STRIDE = 2  # polyphony evidence from every other frame (every 80 ms)
ALIGN_16K = 640  # windows start on a multiple of 40 ms: a common multiple of every frame hop
_TRACK_HOP = int(round(HOP_S * INTERNAL_SAMPLE_RATE))


@dataclass(frozen=True)
class StreamUpdate:
    """What one `feed` or `finish` call produced.

    `final`: the notes that became final with this call (in order; they never change);
    `provisional`: the notes heard after the final ones, which may still change (the last one
    is usually the note being sung); `received_s`: seconds of audio received so far."""

    final: tuple[SungNote, ...]
    provisional: tuple[SungNote, ...]
    received_s: float


class StreamingTranscriber:
    """Transcribes one take fed in chunks; the same notes as `transcribe` on the whole take,
    within a tolerance (see the module notes)."""

    def __init__(self, *, sample_rate: int, params: SegmentParams = DEFAULT_SEGMENT_PARAMS,
                 update_interval_s: float = DEFAULT_UPDATE_INTERVAL_S,
                 allow_polyphonic: bool = False,
                 max_duration_s: float = MAX_INPUT_DURATION_S) -> None:
        if not isinstance(sample_rate, int | np.integer) or sample_rate < 1000:
            raise InputAudioError(f"the sample rate {sample_rate!r} is not a valid audio sample rate")
        self.sample_rate = int(sample_rate)
        self.params = params
        self.update_interval_s = max(0.0, float(update_interval_s))
        self.allow_polyphonic = allow_polyphonic
        self.max_duration_s = max_duration_s
        unit16 = INTERNAL_SAMPLE_RATE // math.gcd(self.sample_rate, INTERNAL_SAMPLE_RATE)
        self._step16 = math.lcm(unit16, ALIGN_16K)  # window starts: 16 kHz samples ...
        self._step_in = self._step16 * self.sample_rate // INTERNAL_SAMPLE_RATE  # ... input samples
        self._raw = np.zeros(0, dtype=np.float32)
        self._raw_start = 0  # input sample index of _raw[0]
        self._pending: list[np.ndarray] = []
        self._received = 0
        self._analysed_until = 0
        self._peak = 0.0
        self._w0 = 0  # analysis window start, input samples (a multiple of _step_in)
        self._commit_s = 0.0  # everything before this is final
        self._hist_end16 = 0  # history statistics cover 16 kHz samples [0, _hist_end16)
        self._notes: list[SungNote] = []
        self._provisional: tuple[SungNote, ...] = ()
        self._loud_hist: list[np.ndarray] = []  # pitch-track frame loudness (dBFS)
        self._flux_hist: list[np.ndarray] = []  # onset strength of voiced frames
        self._voiced_loud_hist: list[np.ndarray] = []  # loudness of voiced frames (dBFS)
        self._noise_hist: list[np.ndarray] = []  # decimated power spectra (bins, frames)
        self._noise_samples = 0
        self._poly_loud: list[np.ndarray] = []  # every polyphony frame's loudness
        self._poly_evidence: list[FrameEvidence] = []  # every POLYPHONY_STRIDE-th frame
        self._finished = False
        self.analyses = 0  # how many times a window was analysed (each feed does 0 or 1)

    # ------------------------------------------------------------------ public

    @property
    def notes(self) -> list[SungNote]:
        """Every final note so far (after `finish`: the whole take)."""
        return list(self._notes)

    @property
    def received_s(self) -> float:
        return self._received / self.sample_rate

    @property
    def polyphony(self) -> PolyphonyEstimate:
        """How polyphonic the finalised part of the take sounds so far."""
        loud = np.concatenate(self._poly_loud) if self._poly_loud else np.zeros(0)
        ref = float(np.percentile(loud, 95)) if loud.size else None
        # persistence included, as offline: a hummed or whistled duet has too few partials
        # for a second harmonic series, and shows only as a second voice that holds still
        return judge(FrameEvidence.concatenate(self._poly_evidence), reference_db=ref)

    def feed(self, chunk: np.ndarray) -> StreamUpdate:
        """Add recorded audio: mono samples (float, or integer PCM), or (frames, channels)."""
        if self._finished:
            raise InputAudioError("this take is finished; start a new StreamingTranscriber")
        x = _as_mono_float(chunk)
        if x.size:
            if not np.all(np.isfinite(x)):
                raise InputAudioError("the recording holds invalid samples (NaN or infinity)")
            if (self._received + x.size) / self.sample_rate > self.max_duration_s:
                raise InputAudioError(
                    f"the recording is longer than the {self.max_duration_s / 60:g}-minute limit")
            self._peak = max(self._peak, float(np.max(np.abs(x))))
            self._pending.append(x)
            self._received += x.size
        final: list[SungNote] = []
        window_s = (self._received - self._w0) / self.sample_rate
        interval_s = max(self.update_interval_s, WINDOW_COST_RATIO * window_s)
        if (self._received - self._analysed_until) / self.sample_rate >= interval_s:
            final = self._analyse(last=False)
        return StreamUpdate(tuple(final), self._provisional, self.received_s)

    def finish(self) -> StreamUpdate:
        """Analyse what is left: every remaining note becomes final. Raises what `transcribe`
        raises for the whole take (silence, several instruments at once, no notes)."""
        if self._finished:
            return StreamUpdate((), (), self.received_s)
        self._finished = True
        if self._received == 0:
            raise InputAudioError("the recording is empty")
        if self._peak <= 10.0 ** (SILENCE_PEAK_DBFS / 20.0):
            raise NoMelodyError("the recording is silent")
        final = self._analyse(last=True)
        if not self.allow_polyphonic:
            found = self.polyphony
            if found.polyphonic:
                raise polyphonic_error(found)
        if not self._notes:
            raise NoMelodyError("no sung or hummed notes were found")
        log.info("streamed %d notes from %.1f s of audio", len(self._notes), self.received_s)
        return StreamUpdate(tuple(final), (), self.received_s)

    # ------------------------------------------------------------------ internals

    def _window(self) -> np.ndarray:
        if self._pending:
            self._raw = np.concatenate([self._raw, *self._pending])
            self._pending = []
        return self._raw[self._w0 - self._raw_start:]

    def _analyse(self, *, last: bool) -> list[SungNote]:
        sr16 = INTERNAL_SAMPLE_RATE
        x = prepare(self._window(), sample_rate=self.sample_rate)
        w0_16 = self._w0 * sr16 // self.sample_rate
        t0 = w0_16 / sr16
        end16 = w0_16 + x.size
        self._analysed_until = self._received
        self.analyses += 1

        # noise reduction with the noise learnt from everything heard so far
        power = (stft_power(x, sample_rate=sr16) if x.size >= NOISE_FRAME
                 else np.zeros((NOISE_FRAME // 2 + 1, 0)))
        spec_at = (w0_16 // NOISE_HOP + np.arange(power.shape[1])) * NOISE_HOP  # frame centres
        fresh = ((spec_at >= self._hist_end16) & (spec_at + NOISE_FRAME // 2 <= end16)
                 & ((spec_at // NOISE_HOP) % NOISE_DECIMATION == 0))
        noise = None
        if self._noise_samples + max(0, end16 - self._hist_end16) >= 4 * NOISE_FRAME:
            pool = np.concatenate([*self._noise_hist, power[:, fresh]], axis=1)
            noise = learn_noise(pool) if pool.shape[1] else None
        clean = x if noise is None else subtract_noise(x, noise, sample_rate=sr16)

        i0 = w0_16 // _TRACK_HOP
        earlier = np.concatenate(self._loud_hist)[:i0] if self._loud_hist else None
        track = track_pitch(clean, earlier_loudness_db=earlier, noisy=noise is not None)
        frame_at = (i0 + np.arange(track.times_s.size)) * _TRACK_HOP
        voiced = _bridge_holes(track.voiced, int(round(self.params.max_hole_s / track.hop_s)))
        fresh_voiced = voiced & (frame_at >= self._hist_end16)
        flux = np.concatenate([*self._flux_hist, track.onset_strength[fresh_voiced]])
        reference = float(np.median(flux)) if flux.size else None
        level = np.concatenate([*self._voiced_loud_hist, track.loudness_db[fresh_voiced]])
        level_db = float(np.median(level)) if level.size else None
        heard = [replace(n, onset_s=n.onset_s + t0, offset_s=n.offset_s + t0)
                 for n in segment_notes(track, self.params, onset_reference=reference,
                                        loudness_reference_db=level_db)]

        final, provisional = self._split_final(heard, now_s=end16 / sr16, last=last)
        self._notes.extend(final)
        self._provisional = tuple(provisional)
        if final:
            self._commit_s = final[-1].offset_s
        if not last:
            settled = end16 / sr16 - FINAL_LAG_S
            bound = min(settled, provisional[0].onset_s) if provisional else settled
            self._commit_s = max(self._commit_s, bound)
        new_end16 = end16 if last else min(end16, int(self._commit_s * sr16))
        if new_end16 > self._hist_end16:
            self._push_history(x, w0_16, new_end16, power, spec_at, track, voiced, frame_at)
        # the next window starts CONTEXT_S before the commit point, on the alignment grid
        start16 = max(0, int((self._commit_s - CONTEXT_S) * sr16)) // self._step16 * self._step16
        self._w0 = max(self._w0, start16 * self.sample_rate // sr16)
        drop = self._w0 - self._raw_start
        if drop > 0:
            self._raw = self._raw[drop:]
            self._raw_start = self._w0
        return final

    def _split_final(self, heard: list[SungNote], *, now_s: float,
                     last: bool) -> tuple[list[SungNote], list[SungNote]]:
        """Notes after the commit point, split into final and provisional ones."""
        final: list[SungNote] = []
        provisional: list[SungNote] = []
        settled = now_s - FINAL_LAG_S
        floor = self._commit_s
        for n in sorted(heard, key=lambda n: n.onset_s):
            if n.offset_s <= floor + 1e-6:
                continue  # already final (the context before the commit point)
            if n.onset_s < floor:
                if n.offset_s - floor < self.params.min_note_s:
                    continue
                n = replace(n, onset_s=floor)
            if not provisional and (last or n.offset_s <= settled):
                final.append(n)
                floor = n.offset_s
            else:
                provisional.append(n)
        return final, provisional

    def _push_history(self, x: np.ndarray, w0_16: int, new_end16: int, power: np.ndarray,
                      spec_at: np.ndarray, track: PitchTrack, voiced: np.ndarray,
                      frame_at: np.ndarray) -> None:
        """Move the window's statistics for 16 kHz samples [_hist_end16, new_end16) into the
        history (they are final: well inside the window)."""
        lo, hi = self._hist_end16, new_end16
        part = (frame_at >= lo) & (frame_at < hi)
        self._loud_hist.append(track.loudness_db[part])
        self._flux_hist.append(track.onset_strength[part & voiced])
        self._voiced_loud_hist.append(track.loudness_db[part & voiced])
        if power.size:
            take = (spec_at >= lo) & (spec_at < hi) & ((spec_at // NOISE_HOP) % NOISE_DECIMATION == 0)
            self._noise_hist.append(power[:, take].astype(np.float32))
        self._noise_samples += hi - lo
        k_lo = -(-lo // POLY_HOP)
        k_hi = -(-hi // POLY_HOP)
        ks = np.arange(k_lo, k_hi)
        rel = ks - w0_16 // POLY_HOP
        loud = frame_loudness(x)
        inside = (rel >= 0) & (rel < loud.size) & (rel * POLY_HOP + POLY_FRAME <= max(x.size, POLY_FRAME))
        ks, rel = ks[inside], rel[inside]
        if ks.size:
            self._poly_loud.append(loud[rel])
            pick = rel[ks % POLYPHONY_STRIDE == 0]
            if pick.size:
                self._poly_evidence.append(frame_evidence(x, pick))
        self._hist_end16 = hi


def _as_mono_float(chunk: np.ndarray) -> np.ndarray:
    x = np.asarray(chunk)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise InputAudioError(f"audio chunks must be mono or (frames, channels), not {x.ndim}-D")
    return x.astype(np.float32, copy=False)

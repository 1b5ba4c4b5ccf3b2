"""Transcribe a take while it is being recorded: audio in chunks, notes as they become final.

    stream = StreamingTranscriber(sample_rate=48000)
    for chunk in recording:                  # any chunk size, e.g. one websocket message
        update = stream.feed(chunk)
        show(update.final, update.provisional)
    update = stream.finish()                 # the rest; stream.notes holds the whole take

Each update analyses a short window with the offline transcriber's own stages (prepare,
late-reverberation suppression when there is a room, noise reduction, pitch tracking, note
segmentation), from CONTEXT_S before the last final note to the newest audio. The
recording-wide quantities those stages measure (the room, the noise spectrum, the loud level
the silence floor hangs from, the background level, the median onset strength and loudness of
voiced frames) come from everything heard so far rather than from the whole take, which is all
that differs from `transcribe`. A note is final once the analysis has run FINAL_LAG_S past its
end, and never changes afterwards; the notes after it are provisional (the last one is usually
the note being sung).

The room (`dereverb.estimate_room`, from the levels of every STFT frame heard so far) is
estimated after ROOM_FIRST_S of audio, again every ROOM_EVERY_S or ROOM_EVERY_FRACTION of what
was heard (whichever is longer), and at the end, over the frames `transcribe` reads. Dry and
noisy takes get none and stream exactly as before. With one, each window is analysed as
`transcribe` analyses the whole take: the late reverberation is suppressed (causal, so exact
given DEREVERB_CONTEXT before the part that matters), the noise is learnt from and subtracted
in that audio, the pitch tracker's evidence comes from it and the loudness from the take
itself, and the segmenter uses `notes.for_reverberant_take`; the pitch frames analysed with
another room (or none) are analysed again. What still differs on a reverberant take: the notes
finalised before the room is known, and the statistics learnt from that audio (its noise
spectra and onset strengths are the unsuppressed ones). `estimate_room` wants 2000 strong
bin-frames, which a reverberant take gathers slowly: on ssvd-dev in a room of RT60 0.6 s the
room is known after 1-9 s of most takes, 13-20 s of a few, and only at the end of two. The
streamed notes agree with offline at F1 0.949 there (0.800 without the suppression; 0.978 if
the whole take's room were known from the start).

The polyphonic-input check runs on the finished audio as it goes; `finish()` raises
PolyphonicInputError as `transcribe` would (`polyphony` shows the running estimate, e.g. to
warn early in a user interface).

Cost: what does not depend on later audio is computed once and kept, so an update mostly
analyses the audio that arrived since the last one. The 16 kHz signal comes from a stream
resampler (the same samples as resampling the whole take) and a high-pass whose forward pass
runs as the audio comes; only the newest HIGHPASS_SETTLE samples are filtered again. The pitch
tracker's per-frame evidence (candidates, loudness, brightness, onset strength) is kept for
every frame whose audio is final (redone when the noise estimate moves, NOISE_REUSE_DB), and
its Viterbi pass continues from the state before the window, redone only from the first frame
whose evidence changed (`pitch.StreamViterbi`). What each update still does over the whole
window: the voicing floor, the backtracking and the note segmentation. Together about 2.8x the
CPU of `transcribe` on clean ssvd-dev takes, 3.0x with noise (bench/README.md). The room check
costs every take a little (the levels of the new STFT frames, and the estimates, each over the
whole history but less often as it grows: about 4 % of the stream's CPU on a clean take). With
a room, each update also suppresses the reverberation of its newest audio (the suppressed
samples whose audio is final are kept, as the high-pass's are) and the window's pitch frames
are analysed again whenever the room estimate moves: about 3.5x the CPU of `transcribe` on
reverberant takes. Updates come at most every `update_interval_s` and no more often than every
WINDOW_COST_RATIO x the window length (a note held for a long time makes the window long).
Memory: the 16 kHz audio and the pitch frames of the window, plus about 35 kB per second of
history for the noise estimate and 79 kB per second for the room's (157 bins x 125 frames of
float32 levels).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from tunesmith.errors import InputAudioError, NoMelodyError
from tunesmith.listen.audio import MAX_INPUT_DURATION_S
from tunesmith.listen.denoise import FRAME as NOISE_FRAME
from tunesmith.listen.denoise import HOP as NOISE_HOP
from tunesmith.listen.denoise import NoiseProfile, frame_power, learn_noise, stft, subtract_noise
from tunesmith.listen.dereverb import BIN_RANGE as ROOM_BINS
from tunesmith.listen.dereverb import CONTEXT_S as DEREVERB_CONTEXT_S
from tunesmith.listen.dereverb import LEVEL_SMOOTH_FRAMES as ROOM_SMOOTH_FRAMES
from tunesmith.listen.dereverb import Room, band_levels, room_from_levels, suppress_late_reverb
from tunesmith.listen.notes import (
    DEFAULT_SEGMENT_PARAMS,
    SegmentParams,
    _bridge_holes,
    for_reverberant_take,
    segment_notes,
)
from tunesmith.listen.pitch import (
    FLUX_LAG,
    INTERNAL_SAMPLE_RATE,
    MAX_CANDIDATES,
    FrameGeometry,
    PitchFrames,
    PitchTrack,
    StreamHighpass,
    StreamViterbi,
    decode_pitch,
    frame_features,
)
from tunesmith.listen.polyphony import FRAME as POLY_FRAME
from tunesmith.listen.polyphony import HOP as POLY_HOP
from tunesmith.listen.polyphony import SILENT_DBFS as POLY_SILENT_DBFS
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
HIGHPASS_SETTLE = 1200  # 16 kHz samples (75 ms): the high-pass's backward pass starts at the
# newest audio; its start fades to float32 precision within this (measured on ssvd-dev: 3e-6 of
# the signal's rms), so samples this far back are final; the newer ones are filtered again
RESAMPLE_CONTEXT = 800  # 16 kHz samples (50 ms, twice the resampler's delay) of audio before the
# stream resampler's end that the newest audio is resampled with (see _resample_tail) ...
RAW_TAIL_S = 0.25  # ... from the newest input audio, kept for it
DEREVERB_CONTEXT = -(-int(round(DEREVERB_CONTEXT_S * INTERNAL_SAMPLE_RATE)) // NOISE_HOP) * NOISE_HOP
# 16 kHz samples (1792, 112 ms, on the STFT grid): late-reverberation suppression of a piece of
# the take gives the whole take's samples from this far into the piece on
KEEP_BEFORE = 1280 + DEREVERB_CONTEXT  # 16 kHz samples kept before the window: the context of
# its first frames (half a pitch frame + the denoiser's frame + the onset strength's FLUX_LAG
# frames, and the reverberation suppression's context before those)
ROOM_FIRST_S = 1.0  # the room is first estimated once this much audio is heard ...
ROOM_EVERY_S = 1.0  # ... then again after this much more audio ...
ROOM_EVERY_FRACTION = 0.5  # ... or this fraction of what was heard, if longer: each estimate
# reads the whole history, so a fixed interval would cost in proportion to the square of the
# take's length; this way the estimates together cost at most (1 + 1 / 0.5) = 3 times the
# last one (each about 0.15 ms per second of take)
NOISE_REUSE_DB = 1.0  # pitch frames analysed with a noise estimate this close (total power,
NOISE_REUSE_FACTOR = 1.1  # and over-subtraction within this ratio) are kept; further: redone
_GEO = FrameGeometry.of()
_TRACK_HOP = _GEO.hop


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
        import soxr

        self._resampler = None if self.sample_rate == INTERNAL_SAMPLE_RATE else \
            soxr.ResampleStream(self.sample_rate, INTERNAL_SAMPLE_RATE, 1, dtype="float32")
        self._pending: list[np.ndarray] = []  # input audio not yet resampled
        self._raw_tail = np.zeros(0, dtype=np.float32)  # the newest RAW_TAIL_S of input audio
        self._raw_tail_start = 0  # input sample index of _raw_tail[0]
        self._received = 0
        self._analysed_until = 0
        self._peak = 0.0
        # the audio at 16 kHz, from KEEP_BEFORE before the window: as resampled (the stream
        # resampler gives what `prepare` gives the whole take) and high-passed, final up to
        # _hp_done (the newest HIGHPASS_SETTLE samples are filtered again at the next update)
        self._highpass = StreamHighpass()
        self._buf0 = 0  # 16 kHz sample index of _hp[0]
        self._hp = np.zeros(0, dtype=np.float32)
        self._hp_done = 0
        self._w0 = 0  # analysis window start, 16 kHz samples (a multiple of ALIGN_16K)
        # pitch frames whose audio was final when analysed: frames [_frame0, _frame0 + len)
        self._frames: PitchFrames | None = None
        self._frame0 = 0
        self._carry: np.ndarray | None = None  # the log spectra the next frame's flux needs
        self._frames_noise: NoiseProfile | None = None  # the noise they were analysed with
        self._frames_room: Room | None = None  # and the room (None: no reverberation removed)
        self._room: Room | None = None  # the room heard so far (None: dry, or not known yet)
        self._room_levels = _RoomLevels()  # every STFT frame's level, for estimating it
        self._room_due = int(ROOM_FIRST_S * INTERNAL_SAMPLE_RATE / NOISE_HOP)  # frames
        # the audio with its late reverberation suppressed (for _room_dry): final from _dry0
        # to _dry0 + _dry_final.size, and this update's (_dry_now: final + newest samples)
        self._dry_room: Room | None = None
        self._dry0 = 0
        self._dry_final = np.zeros(0, dtype=np.float32)
        self._dry_now: np.ndarray | None = None
        self._viterbi = StreamViterbi()
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
    def room(self) -> Room | None:
        """The room the take sounds recorded in so far (None: dry, or not enough heard yet):
        with one, late reverberation is suppressed as `transcribe` does (`dereverb`)."""
        return self._room

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
        window_s = self.received_s - self._w0 / INTERNAL_SAMPLE_RATE
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

    def _take_audio(self, *, last: bool) -> int:
        """Resample and high-pass the audio received since the last update; returns the end
        of the 16 kHz signal (sample index)."""
        x = np.concatenate(self._pending) if self._pending else np.zeros(0, dtype=np.float32)
        self._pending = []
        self._raw_tail = np.concatenate([self._raw_tail, x])
        if self._resampler is not None:
            x = self._resampler.resample_chunk(np.ascontiguousarray(x), last=last)
        self._highpass.push(x)
        stream_end = self._highpass.end
        tail = (self._resample_tail(stream_end) if not last and self._resampler is not None
                else None)
        self._hp = np.concatenate([self._hp[:self._hp_done - self._buf0],
                                   self._highpass.filtered(self._hp_done, tail)])
        end16 = self._buf0 + self._hp.size
        self._hp_done = end16 if last else max(self._hp_done, stream_end - HIGHPASS_SETTLE)
        drop = self._raw_tail.size - int(RAW_TAIL_S * self.sample_rate)
        if drop > 0:
            self._raw_tail = self._raw_tail[drop:]
            self._raw_tail_start += drop
        return end16

    def _resample_tail(self, stream_end: int) -> np.ndarray:
        """The 16 kHz audio after `stream_end` up to the newest input: the stream resampler
        holds back its filter's delay (about 25 ms), which would delay every update; resampled
        from RESAMPLE_CONTEXT before it in one go instead (not final: the stream resampler
        replaces it at the next update)."""
        import soxr

        g = math.gcd(self.sample_rate, INTERNAL_SAMPLE_RATE)
        unit_in, unit16 = self.sample_rate // g, INTERNAL_SAMPLE_RATE // g  # aligned pairs
        a16 = max(0, stream_end - RESAMPLE_CONTEXT) // unit16 * unit16
        a_in = max(a16 // unit16, -(-self._raw_tail_start // unit_in)) * unit_in
        a16 = a_in // unit_in * unit16
        y = soxr.resample(self._raw_tail[a_in - self._raw_tail_start:], self.sample_rate,
                          INTERNAL_SAMPLE_RATE)
        return y[stream_end - a16:] if a16 <= stream_end else np.zeros(0, dtype=np.float32)

    def _analyse(self, *, last: bool) -> list[SungNote]:
        sr16 = INTERNAL_SAMPLE_RATE
        end16 = self._take_audio(last=last)
        w0_16 = self._w0
        x = self._hp[w0_16 - self._buf0:]
        t0 = w0_16 / sr16
        self._analysed_until = self._received
        self.analyses += 1

        room = self._update_room(end16, last=last)
        self._dry_now = None

        # noise reduction with the noise learnt from everything heard so far: the spectra of
        # the frames after the history (the STFT frames the history keeps, see NOISE_DECIMATION),
        # of the audio without its late reverberation when there is a room (as offline)
        step = NOISE_HOP * NOISE_DECIMATION
        spec_at = np.arange(-(-self._hist_end16 // step), -(-end16 // step)) * step  # centres
        if room is not None and spec_at.size:
            d0, dry = self._dry_from(max(self._buf0, int(spec_at[0]) - NOISE_FRAME // 2), end16,
                                     room)
            power = frame_power(dry, spec_at - d0)
        else:
            power = frame_power(self._hp, spec_at - self._buf0)
        fresh = spec_at + NOISE_FRAME // 2 <= end16
        noise = None
        if self._noise_samples + max(0, end16 - self._hist_end16) >= 4 * NOISE_FRAME:
            pool = np.concatenate([*self._noise_hist, power[:, fresh]], axis=1)
            noise = learn_noise(pool) if pool.shape[1] else None

        i0 = w0_16 // _TRACK_HOP
        frames = self._pitch_frames(i0, end16, noise, room, last=last)
        earlier = np.concatenate(self._loud_hist)[:i0] if self._loud_hist else None
        track = decode_pitch(frames, earlier_loudness_db=earlier, noisy=noise is not None,
                             decoder=partial(self._viterbi.decode, i0))
        frame_at = (i0 + np.arange(track.times_s.size)) * _TRACK_HOP
        params = self.params if room is None else for_reverberant_take(self.params)
        voiced = _bridge_holes(track.voiced, int(round(params.max_hole_s / track.hop_s)))
        fresh_voiced = voiced & (frame_at >= self._hist_end16)
        flux = np.concatenate([*self._flux_hist, track.onset_strength[fresh_voiced]])
        reference = float(np.median(flux)) if flux.size else None
        level = np.concatenate([*self._voiced_loud_hist, track.loudness_db[fresh_voiced]])
        level_db = float(np.median(level)) if level.size else None
        heard = [replace(n, onset_s=n.onset_s + t0, offset_s=n.offset_s + t0)
                 for n in segment_notes(track, params, onset_reference=reference,
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
        self._dry_now = None
        # the next window starts CONTEXT_S before the commit point, on the alignment grid
        start16 = max(0, int((self._commit_s - CONTEXT_S) * sr16)) // ALIGN_16K * ALIGN_16K
        self._w0 = max(self._w0, start16)
        keep = max(0, self._w0 - KEEP_BEFORE)
        if keep > self._buf0:
            self._hp = self._hp[keep - self._buf0:]
            self._buf0 = keep
            if keep > self._dry0:
                self._dry_final = self._dry_final[keep - self._dry0:]
                self._dry0 = keep
            self._highpass.forget(keep)
        i0 = self._w0 // _TRACK_HOP
        if self._frames is not None and i0 > self._frame0:
            if self._frame0 + len(self._frames) < i0:
                self._frames = None
            else:
                self._frames = self._frames[i0 - self._frame0:]
                self._frame0 = i0
        return final

    def _pitch_frames(self, i0: int, end16: int, noise: NoiseProfile | None, room: Room | None,
                      *, last: bool) -> PitchFrames:
        """The pitch tracker's frames of the window (frames i0.. up to the end of the audio, as
        `track_pitch` frames it): the cached ones, and the rest analysed now. A frame is cached
        once its audio (with the denoiser's, the reverberation suppression's and the high-pass
        filter's reach) is final; all of them are analysed again when the noise estimate has
        moved (NOISE_REUSE_DB) or the room estimate changed."""
        geo = _GEO
        n_total = i0 + max(1, -(-(end16 - self._w0) // geo.hop))
        if (self._frames is None or _noise_moved(noise, self._frames_noise)
                or room != self._frames_room):
            self._frame0 = max(0, i0 - FLUX_LAG)  # the flux of frame i0 needs those before it
            self._frames = _no_frames()
            self._carry = None
            self._frames_noise = noise
            self._frames_room = room
        g0 = self._frame0 + len(self._frames)
        if g0 < n_total:
            lo = g0 * geo.hop - geo.pad_left  # the audio frames g0..n_total-1 reach
            hi = lo + (n_total - g0) * geo.hop + geo.frame_len + 1
            reach = NOISE_FRAME if noise is not None else 0  # the denoiser's frames
            a = max(self._buf0, (lo - reach) // NOISE_HOP * NOISE_HOP)  # on the STFT grid
            b = min(end16, hi + reach)
            if room is None:
                sig = self._hp[a - self._buf0:b - self._buf0]
            else:  # pitch, brightness and onset strength without the late reverberation
                d0, dry = self._dry_from(a, end16, room)
                sig = dry[a - d0:b - d0]
            if noise is not None and sig.size:
                sig = subtract_noise(sig, noise, sample_rate=INTERNAL_SAMPLE_RATE)
            padded = np.zeros(hi - lo, dtype=np.float32)  # zeros outside the audio heard
            c, d = max(a, lo), min(b, hi)
            if d > c:
                padded[c - lo:d - lo] = sig[c - a:d - a]
            levels = None
            if room is not None:  # loudness from the take itself, as `transcribe` measures it
                levels = np.zeros(hi - lo, dtype=np.float32)
                c, d = max(self._buf0, lo), min(end16, hi)
                if d > c:
                    levels[c - lo:d - lo] = self._hp[c - self._buf0:d - self._buf0]
            # frames whose last sample is final at the reach of the STFT stages (the
            # denoiser's and the reverberation suppression's; all of them at the end)
            final_reach = NOISE_FRAME * ((noise is not None) + (room is not None))
            done = n_total if last else (
                (self._hp_done - final_reach - (geo.frame_len - geo.pad_left)) // geo.hop + 1)
            done = min(max(done, g0), n_total)
            new, self._carry = frame_features(padded, n_total - g0, geo, self._carry,
                                              carry_at=done - g0, levels_padded=levels)
            self._frames = PitchFrames.concatenate([self._frames, new[:done - g0]])
            if done < n_total:
                return PitchFrames.concatenate([self._frames[i0 - self._frame0:],
                                                new[done - g0:]])
        return self._frames[i0 - self._frame0:n_total - self._frame0]

    def _update_room(self, end16: int, *, last: bool) -> Room | None:
        """Add the levels of the STFT frames whose audio is final (all of them at the end) to
        the room history, and estimate the room again when due (ROOM_EVERY_S, and at the end,
        which then reads the frames `transcribe` reads). Returns the room now known."""
        if last:  # the frames scipy's STFT has for the whole take (zeros after its end)
            k_hi = -(-end16 // NOISE_HOP) + 1
        else:
            k_hi = max(0, (self._hp_done - NOISE_FRAME // 2) // NOISE_HOP + 1)
        k_lo = self._room_levels.frames
        if k_hi > k_lo:
            centres = np.arange(k_lo, k_hi) * NOISE_HOP
            self._room_levels.push(frame_power(self._hp, centres - self._buf0)[
                ROOM_BINS[0]:ROOM_BINS[1]])
        frames = self._room_levels.frames
        if not last and frames < self._room_due:
            return self._room
        heard_s = frames * NOISE_HOP / INTERNAL_SAMPLE_RATE
        self._room_due = frames + int(max(ROOM_EVERY_S, ROOM_EVERY_FRACTION * heard_s)
                                      * INTERNAL_SAMPLE_RATE / NOISE_HOP)
        # as `transcribe`: a take too short for noise reduction gets no room either
        room = None if end16 < 4 * NOISE_FRAME else room_from_levels(
            self._room_levels.levels(), sample_rate=INTERNAL_SAMPLE_RATE)
        if room != self._room:
            log.debug("room after %.1f s: %s", heard_s, room)
        self._room = room
        return room

    def _dry_from(self, a: int, end16: int, room: Room) -> tuple[int, np.ndarray]:
        """The audio with its late reverberation suppressed, as for the whole take, from sample
        `a` (on the STFT grid) or earlier to the newest: (its first sample's index, samples).
        What is final is kept (the room unchanged): each update suppresses the newest audio
        only, from DEREVERB_CONTEXT before it."""
        if self._dry_now is not None and self._dry0 <= a:
            return self._dry0, self._dry_now
        if self._dry_room != room or self._dry0 > a:  # start afresh at `a`
            self._dry_room, self._dry0 = room, a
            self._dry_final = np.zeros(0, dtype=np.float32)
        c = self._dry0 + self._dry_final.size  # the first sample to suppress (on the grid)
        s = max(self._buf0, c - DEREVERB_CONTEXT)
        seg = self._hp[s - self._buf0:end16 - self._buf0]
        spec = stft(seg, sample_rate=INTERNAL_SAMPLE_RATE)
        new = suppress_late_reverb(seg, room, sample_rate=INTERNAL_SAMPLE_RATE, spec=spec)
        self._dry_now = np.concatenate([self._dry_final, new[c - s:]])
        # final: samples whose STFT frames (FRAME / 2 either side) read final audio only
        done = max(c, min(end16, self._hp_done - NOISE_FRAME) // NOISE_HOP * NOISE_HOP)
        self._dry_final = self._dry_now[:done - self._dry0]
        return self._dry0, self._dry_now

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
            take = (spec_at >= lo) & (spec_at < hi)
            self._noise_hist.append(power[:, take])
        # one array each: every update reads them all (a concatenation of many small pieces
        # costs more than the copy)
        self._loud_hist = [np.concatenate(self._loud_hist)]
        self._flux_hist = [np.concatenate(self._flux_hist)]
        self._voiced_loud_hist = [np.concatenate(self._voiced_loud_hist)]
        if self._noise_hist:
            self._noise_hist = [np.concatenate(self._noise_hist, axis=1)]
        self._noise_samples += hi - lo
        k_lo = -(-lo // POLY_HOP)
        k_hi = -(-hi // POLY_HOP)
        ks = np.arange(k_lo, k_hi)
        base = max(0, k_lo - w0_16 // POLY_HOP)  # only the audio from frame k_lo on
        sub = x[base * POLY_HOP:]
        rel = ks - w0_16 // POLY_HOP - base
        loud = frame_loudness(sub)
        inside = ((rel >= 0) & (rel < loud.size)
                  & (rel * POLY_HOP + POLY_FRAME <= max(sub.size, POLY_FRAME)))
        ks, rel = ks[inside], rel[inside]
        if ks.size:
            self._poly_loud.append(loud[rel])
            # silent frames never count (polyphony.judge): no need to analyse them
            pick = rel[(ks % POLYPHONY_STRIDE == 0) & (loud[rel] > POLY_SILENT_DBFS)]
            if pick.size:
                self._poly_evidence.append(frame_evidence(sub, pick))
        self._hist_end16 = hi


class _RoomLevels:
    """`dereverb.band_levels` of every STFT frame of the take heard so far (the room estimate
    needs consecutive frames, so the decimated noise history will not do): frames are pushed as
    their audio becomes final; a level needs the frames around it (the smoothing), so the
    newest ones are only computed when asked for, as at the end of a whole take. float32, 157
    bins at 125 frames per second: about 79 kB per second of audio."""

    def __init__(self) -> None:
        self.frames = 0  # frames pushed
        self._half = ROOM_SMOOTH_FRAMES // 2
        self._levels = np.zeros((ROOM_BINS[1] - ROOM_BINS[0], 1024), dtype=np.float32)
        self._done = 0  # frames whose level is in _levels (room to grow: doubled when full)
        self._raw = np.zeros((ROOM_BINS[1] - ROOM_BINS[0], 0), dtype=np.float32)  # the power
        # of the frames after them, and of the _half frames before those (their context)

    def push(self, band: np.ndarray) -> None:
        """Add the power (bins of BIN_RANGE, frames) of the next frames."""
        if not band.shape[1]:
            return
        if self.frames == 0:  # the start is reflected, as uniform_filter1d does
            band = np.concatenate([band[:, :self._half][:, ::-1], band], axis=1)
        self.frames += band.shape[1] - (self._half if self.frames == 0 else 0)
        self._raw = np.concatenate([self._raw, band], axis=1)
        level = self._smoothed(self._raw)
        if level.shape[1]:
            n = self._done + level.shape[1]
            if n > self._levels.shape[1]:
                grown = np.zeros((self._levels.shape[0], max(n, 2 * self._levels.shape[1])),
                                 dtype=np.float32)
                grown[:, :self._done] = self._levels[:, :self._done]
                self._levels = grown
            self._levels[:, self._done:n] = level
            self._done = n
            self._raw = self._raw[:, -2 * self._half:]

    def levels(self) -> np.ndarray:
        """The levels of every frame pushed (the newest as if the take ended there: reflected,
        as `band_levels` pads the end of a whole take)."""
        end = band_levels(self._raw)[:, self._half:] if self._raw.shape[1] > self._half \
            else np.zeros((self._raw.shape[0], 0), dtype=np.float32)
        return np.concatenate([self._levels[:, :self._done], end], axis=1)

    def _smoothed(self, raw: np.ndarray) -> np.ndarray:
        """`band_levels` of the frames of `raw` that have _half frames either side."""
        n = raw.shape[1] - 2 * self._half
        if n <= 0:
            return np.zeros((raw.shape[0], 0), dtype=np.float32)
        return band_levels(raw)[:, self._half:self._half + n]


def _noise_moved(now: NoiseProfile | None, then: NoiseProfile | None) -> bool:
    """Whether pitch frames analysed with the noise estimate `then` must be analysed again
    now that it is `now`: noise reduction switched on or off, or the noise level or the
    over-subtraction moved by more than NOISE_REUSE_DB / NOISE_REUSE_FACTOR (early in a take,
    while the estimate still learns; later it barely moves)."""
    if now is None or then is None:
        return (now is None) != (then is None)
    level_db = 10.0 * np.log10(float(now.power.sum()) / max(float(then.power.sum()), 1e-30))
    ratio = now.oversubtract / then.oversubtract
    return abs(level_db) > NOISE_REUSE_DB or not 1 / NOISE_REUSE_FACTOR <= ratio <= NOISE_REUSE_FACTOR


def _no_frames() -> PitchFrames:
    return PitchFrames(np.zeros((0, MAX_CANDIDATES)), np.zeros((0, MAX_CANDIDATES)),
                       np.zeros(0), np.zeros(0), np.zeros(0))


def _as_mono_float(chunk: np.ndarray) -> np.ndarray:
    x = np.asarray(chunk)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise InputAudioError(f"audio chunks must be mono or (frames, channels), not {x.ndim}-D")
    return x.astype(np.float32, copy=False)

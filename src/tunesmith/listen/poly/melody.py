"""The lead melody of a full mix: a Viterbi path over the sounding pitches of every frame.

The lead is not simply the highest note (a clarinet melody sits under the piano's right hand:
on POP909 renders the lead is the highest sounding pitch in 77 % of its frames), so each pitch
of a frame is scored on several cues at once:
- clarity: the model's note posterior (log);
- loudness: its harmonic-sum level against the loudest sounding pitch of the frame, and against
  the song's loud level (a lead sings out; a quiet line is accompaniment, or nothing);
- range: a soft preference for the singing register around `preferred_midi`;
- timbre: after a first path, a model of the lead's spectral shape (log magnitudes of its first
  harmonics, a diagonal Gaussian) is fitted to the frames the path is surest of, against every
  other sounding pitch, and the path is searched again with the likelihood ratio as one more
  cue (twice, refitting in between). It is what tells the lead from a string line in an intro.
The path pays for every change of pitch (more for a larger leap) and for starting or
stopping, which keeps it on one voice; a "no melody" state with a fixed score lets it rest
where nothing scores well. (A preference for the highest sounding pitch was tried and tuned to
nothing.)

The path is then cut into notes: a change of pitch starts a note, and so does a re-attack of
the same pitch (a peak of the model's onset posterior at that key) so repeated notes stay
separate; a note starts at its onset peak when the path reached it late (soft attacks).
The weights were tuned on POP909 training songs (001-024) rendered as in `bench/polyphonic.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunesmith.listen.poly.engine import LOWEST_MIDI, N_PITCHES, Activations
from tunesmith.listen.poly.notes import SALIENCE_FLOOR, Spectrum
from tunesmith.score import SungNote

TIMBRE_FLOOR = 1e-3
TIMBRE_SD_FLOOR = 0.1


@dataclass(frozen=True, slots=True)
class MelodyParams:
    """Weights of the melody path (tuned on POP909 training songs)."""

    low_midi: int = 45  # the lead's possible range
    high_midi: int = 96
    candidate_posterior: float = 0.25  # a pitch is sounding where the note posterior exceeds this
    posterior_weight: float = 1.0  # x log(note posterior)
    posterior_floor: float = 0.02
    loudness_weight: float = 0.08  # per dB under the frame's loudest sounding pitch
    loudness_floor_db: float = -30.0
    level_weight: float = 0.25  # per dB under the song's reference level (the lead is loud)
    level_floor_db: float = -30.0
    level_percentile: float = 90.0  # the reference: this percentile of the frames' loudest pitch
    preferred_midi: float = 70.0
    range_weight: float = 1.0  # x ((pitch - preferred) / 12) ** 2
    rest_score: float = -2.5  # score of the "no melody" state per frame
    change_cost: float = 4.0  # any change of pitch
    leap_cost: float = 0.1  # per semitone of the change
    voicing_cost: float = 4.0  # starting or stopping
    timbre_weight: float = 0.35  # x log-likelihood ratio of the lead's timbre vs the others'
    timbre_clip: float = 5.0
    timbre_passes: int = 2  # refits of the timbre model on the previous path
    timbre_level_db: float = 3.0  # frames of the path this close to its loud level teach it
    timbre_posterior: float = 0.5  # ... where the note posterior is at least this
    timbre_min_frames: int = 50  # fewer teaching frames: no timbre model
    split_onset: float = 0.7  # an onset-posterior peak this high re-attacks the same pitch
    snap_back_frames: int = 8  # a note starts at its onset-posterior peak up to this early
    snap_onset: float = 0.45  # ... if the peak is at least this high
    min_note_frames: int = 8
    trim_release: bool = True  # a note ends where the model last hears its key
    min_note_posterior: float = 0.2  # a note the model hardly hears (mean posterior) is dropped


DEFAULT_MELODY_PARAMS = MelodyParams()


def melody_emissions(act: Activations, salience: np.ndarray,
                     params: MelodyParams = DEFAULT_MELODY_PARAMS) -> np.ndarray:
    """(n_frames, n_states) scores; state i < n_keys is MIDI low_midi + i, the last is rest."""
    lo, hi = params.low_midi - LOWEST_MIDI, params.high_midi - LOWEST_MIDI + 1
    post = act.note.astype(np.float64)
    cand = post >= params.candidate_posterior
    db = 20.0 * np.log10(np.maximum(salience.astype(np.float64), SALIENCE_FLOOR))
    loud = np.where(cand, db, -np.inf).max(axis=1, keepdims=True)
    keys = np.arange(N_PITCHES)[None, :]
    rel_db = np.clip(db - loud, params.loudness_floor_db, 0.0)
    voiced = np.isfinite(loud[:, 0])
    ref = float(np.percentile(loud[voiced, 0], params.level_percentile)) if voiced.any() else 0.0
    level = np.clip(db - ref, params.level_floor_db, 0.0)
    midi = keys + LOWEST_MIDI
    score = (params.posterior_weight * np.log(np.maximum(post, params.posterior_floor))
             + params.loudness_weight * rel_db + params.level_weight * level
             - params.range_weight * ((midi - params.preferred_midi) / 12.0) ** 2)
    score = score[:, lo:hi]
    rest = np.full((post.shape[0], 1), params.rest_score)
    return np.hstack([score, rest])


def transition_scores(n_keys: int, params: MelodyParams = DEFAULT_MELODY_PARAMS) -> np.ndarray:
    """(n_states, n_states) log transition scores, from row state to column state."""
    k = np.arange(n_keys)
    leap = np.abs(k[:, None] - k[None, :])
    out = np.full((n_keys + 1, n_keys + 1), -params.voicing_cost)
    out[:n_keys, :n_keys] = np.where(leap == 0, 0.0, -params.change_cost - params.leap_cost * leap)
    out[n_keys, n_keys] = 0.0
    return out


def viterbi(emissions: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Best state path (max-sum); emissions (n_frames, n_states), transitions (from, to)."""
    n, s = emissions.shape
    back = np.zeros((n, s), dtype=np.int32)
    score = emissions[0].copy()
    for t in range(1, n):
        total = score[:, None] + transitions
        back[t] = np.argmax(total, axis=0)
        score = total[back[t], np.arange(s)] + emissions[t]
    path = np.zeros(n, dtype=np.int32)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def extract_melody(act: Activations, spectrum: Spectrum,
                   params: MelodyParams = DEFAULT_MELODY_PARAMS) -> list[SungNote]:
    """The lead line as performed notes (seconds, fractional MIDI pitch from the contour).

    A first path uses the salience, height and range cues; then a timbre model is fitted to the
    frames it is most sure of (loud, clear) against every other sounding pitch, and the path is
    searched again with the lead's timbre as one more cue (twice, refitting in between)."""
    if act.n_frames == 0:
        return []
    emissions = melody_emissions(act, spectrum.salience, params)
    n_keys = emissions.shape[1] - 1
    transitions = transition_scores(n_keys, params)
    path = viterbi(emissions, transitions)
    timbre = _timbre_vectors(spectrum, params)
    for _ in range(params.timbre_passes if timbre is not None else 0):
        llr = _timbre_llr(act, spectrum, timbre, path, params)
        if llr is None:
            break
        boosted = emissions.copy()
        boosted[:, :n_keys] += params.timbre_weight * llr
        path = viterbi(boosted, transitions)
    return _path_to_notes(act, path, n_keys, params)


def _timbre_vectors(spectrum: Spectrum, params: MelodyParams) -> np.ndarray | None:
    """Log harmonic magnitudes minus their mean per (frame, key): the spectral shape."""
    offset = params.low_midi - spectrum.low_midi
    n_keys = params.high_midi - params.low_midi + 1
    if offset < 0 or offset + n_keys > spectrum.harmonics.shape[1]:
        return None
    logs = np.log(spectrum.harmonics[:, offset:offset + n_keys].astype(np.float32) + TIMBRE_FLOOR)
    return logs - logs.mean(axis=2, keepdims=True)


def _timbre_llr(act: Activations, spectrum: Spectrum, timbre: np.ndarray, path: np.ndarray,
                params: MelodyParams) -> np.ndarray | None:
    """(n_frames, n_keys) clipped log-likelihood ratio, lead vs accompaniment (diagonal
    Gaussians), or None when the path gives too few frames to learn from."""
    n_frames, n_keys = timbre.shape[:2]
    lo = params.low_midi - LOWEST_MIDI
    post = act.note[:, lo:lo + n_keys]
    db = 20.0 * np.log10(np.maximum(spectrum.salience[:, lo:lo + n_keys], SALIENCE_FLOOR))
    voiced = path < n_keys
    if not np.any(voiced):
        return None
    frames = np.arange(n_frames)
    key = np.where(voiced, path, 0)
    path_db = db[frames, key]
    loud = float(np.percentile(path_db[voiced], params.level_percentile))
    teach = voiced & (path_db >= loud - params.timbre_level_db) & (
        post[frames, key] >= params.timbre_posterior)
    if teach.sum() < params.timbre_min_frames:
        return None
    others = post >= params.candidate_posterior
    others[frames[voiced], key[voiced]] = False
    if others.sum() < params.timbre_min_frames:
        return None
    lead = timbre[frames[teach], key[teach]]
    rest = timbre[others]
    return np.clip(_log_gauss(timbre, lead) - _log_gauss(timbre, rest),
                   -params.timbre_clip, params.timbre_clip)


def _log_gauss(x: np.ndarray, sample: np.ndarray) -> np.ndarray:
    mu = sample.mean(axis=0)
    sd = sample.std(axis=0) + TIMBRE_SD_FLOOR
    return -0.5 * (((x - mu) / sd) ** 2).sum(axis=-1) - np.log(sd).sum()


def _path_to_notes(act: Activations, path: np.ndarray, n_keys: int,
                   params: MelodyParams) -> list[SungNote]:
    from tunesmith.listen.poly.notes import FrameNote, refined_pitch

    times = act.times_s
    step = 1.0 / act.frame_rate_hz
    notes: list[SungNote] = []
    change = np.flatnonzero(np.diff(path) != 0) + 1
    bounds = np.concatenate([[0], change, [path.size]])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        state = int(path[a])
        if state >= n_keys:
            continue
        key = params.low_midi - LOWEST_MIDI + state
        cuts = [a, *_reattacks(act.onset[:, key], a, b, params.split_onset), b]
        for s, e in zip(cuts[:-1], cuts[1:], strict=True):
            if e - s < params.min_note_frames:
                continue
            conf = float(act.note[s:e, key].mean())
            if conf < params.min_note_posterior:
                continue
            pitch = refined_pitch(act, FrameNote(s, e, key, conf))
            start = _snap_onset(act.onset[:, key], s, params) if s == a else s
            if params.trim_release:  # the path may hold a key through its release and a rest
                heard = np.flatnonzero(act.note[s:e, key] >= params.candidate_posterior)
                e = s + int(heard[-1]) + 1 if heard.size else e
            notes.append(SungNote(round(float(times[start]), 4),
                                  round(float(times[e - 1]) + step, 4), round(pitch, 3),
                                  round(conf, 3)))
    return notes


def _snap_onset(onset: np.ndarray, start: int, params: MelodyParams) -> int:
    """The onset-posterior peak at or up to `snap_back_frames` before where the path reached
    the key (a soft attack crosses the note threshold late), if it is high enough."""
    lo = max(0, start - params.snap_back_frames)
    seg = onset[lo:start + 1]
    i = int(np.argmax(seg))
    return lo + i if seg[i] >= params.snap_onset else start


def _reattacks(onset: np.ndarray, a: int, b: int, threshold: float) -> list[int]:
    """Frames inside (a, b) where the onset posterior of the key peaks above `threshold`."""
    seg = onset[a:b]
    if seg.size < 3:
        return []
    peak = (seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:]) & (seg[1:-1] >= threshold)
    idx = np.flatnonzero(peak) + 1
    return [int(a + i) for i in idx if i >= 3]

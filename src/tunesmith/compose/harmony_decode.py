"""Decoding: the best chord per beat under the model, the controls and the user's constraints.

Two passes over beats, both with the same shape: each beat either keeps the chord (scored by
the change head's log p(stay)) or moves to another (log p(change) + the weighted transition log
probability); the emission is the network's log posterior minus a share of the chord's
smoothed log prior (a hybrid network/HMM likelihood), plus a chord-tone fit term. A pass takes
the most likely sequence (Viterbi) at temperature 0, else draws one (forward filtering,
backward sampling) among each beat's plausible chords, the seed choosing the draw; the tuned
setting takes the most likely triads and draws their colours.

1. The triad pass decides root and triad quality (maj, min, dim, aug, sus2, sus4) per beat: the
   posteriors, priors and transitions of all chords sharing a triad are pooled. This is where
   the chord rhythm and the harmonic motion are chosen. The most likely triads hold more of the
   melody's notes than a songwriter's chords do (the human chords follow the whole arrangement
   and leave passing notes and suspensions against the melody), so the pass aims for a
   human-like fit: when the path's CTnCTR (`harmony_metrics`) is above `fit_target`, it is
   decoded again with a penalty per beat of melody that the chord holds, the smallest penalty
   (bisection, up to `fit_target_weight`) that brings the passage to the target, as long as
   the path scores at most `fit_target_budget` per beat below the most likely one; a chord span
   whose melody spells out the chord (sings its root, third and fifth) keeps it.
2. The colour pass decides, within each beat's triad, the full chord: plain, 7th, maj7, 6th,
   9th, inversion or slash bass (C, C7, Cmaj7, C6, C/E, C/G, Cmaj7/B...), with the full
   transitions, so a stepwise bass (C - C/B - Am) can appear inside a triad's span.

The controls reshape the scores:
- `harmony="simple"` pools onto root-position maj/min/dim triads only, with fewer changes;
  `"rich"` keeps the learned vocabulary; `"jazzy"` favours sevenths, sixths and ninths and
  ii-V / V-I root motion (a fourth up), with slightly more changes;
- `mood` (-1 darker .. +1 brighter) favours minor- or major-quality chords and, in a major key,
  chords borrowed from the parallel minor (iv, bVI, bVII, bIII) when darker; in a minor key,
  the major IV and V and the major tonic when brighter;
- `allowed` (per beat) forces beats onto given chords (a user's partial chord sheet, cadences);
  `bias` (per beat) leans on some (half cadences).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from tunesmith.compose.harmony_model import DecodeParams, HarmonyModel
from tunesmith.compose.harmony_vocab import (
    ALL_CLASSES,
    N_CLASSES,
    SEVENTH_LIKE,
    ChordClass,
)
from tunesmith.theory import CHORD_QUALITIES

HARMONY_STYLES = ("simple", "rich", "jazzy")
DEFAULT_HARMONY = "rich"
NEG = -1e9
SPELLED_TONE_BEATS = 0.25  # a chord tone counts as sung in a span when it sounds this long
FIT_SEARCH_STEPS = 5  # bisection steps on the fit penalty (see `_aim_fit`)

# Control strengths (log domain), set on validation songs 801-825 against the targets in
# bench/harmony.py (jazzy: the share of sevenths and fourth-up motion of the jazz standards).
SIMPLE_CHANGE_BIAS = -0.8
JAZZY_SEVENTH_BONUS = 3.0
JAZZY_FOURTH_BONUS = 1.6
JAZZY_CHANGE_BIAS = 0.2
MOOD_QUALITY_WEIGHT = 0.5
MOOD_BORROWED_WEIGHT = 0.6

TRIAD_OF = {"maj": "maj", "7": "maj", "maj7": "maj", "6": "maj", "9": "maj", "aug": "aug",
            "sus2": "sus2", "sus4": "sus4", "min": "min", "min7": "min", "min6": "min",
            "dim": "dim", "m7b5": "dim", "dim7": "dim"}
_SIMPLE_OF_TRIAD = {"maj": "maj", "aug": "maj", "sus2": "maj", "sus4": "maj", "min": "min", "dim": "dim"}

# Borrowed chords, in the key-relative frame (0 = tonic of the relative major).
_BORROWED_DARK_MAJOR = {(0, "min"), (3, "maj"), (5, "min"), (7, "min"), (8, "maj"), (10, "maj")}
# For a minor key (tonic at 9 in the frame): the parallel major's I, IV, V and ii.
_BORROWED_BRIGHT_MINOR = {(9, "maj"), (2, "maj"), (4, "maj"), (11, "min")}


@dataclass(frozen=True)
class Controls:
    harmony: str = DEFAULT_HARMONY
    mood: float = 0.0  # -1 darker .. +1 brighter
    minor: bool = False


@lru_cache(maxsize=4)
def base_map(style: str) -> np.ndarray:
    """For each class, the index of its triad class (root-position maj/min/dim/aug/sus2/sus4;
    for "simple", maj/min/dim only)."""
    out = []
    for c in ALL_CLASSES:
        q = TRIAD_OF[c.quality]
        if style == "simple":
            q = _SIMPLE_OF_TRIAD[q]
        out.append(ChordClass(c.root, q).index)
    return np.array(out)


@lru_cache(maxsize=4)
def output_classes(style: str) -> np.ndarray:
    """Which classes a style may put out (simple: root-position maj/min/dim triads)."""
    if style == "simple":
        return np.array([c.bass_interval is None and c.quality in ("maj", "min", "dim")
                         for c in ALL_CLASSES])
    return np.ones(N_CLASSES, dtype=bool)


def _quality_vector(qualities: frozenset[str]) -> np.ndarray:
    return np.array([c.quality in qualities for c in ALL_CLASSES], dtype=float)


def class_bias(controls: Controls) -> np.ndarray:
    """Per-class emission bias (N_CLASSES,) for the harmony style and the mood."""
    bias = np.zeros(N_CLASSES)
    if controls.harmony == "jazzy":
        bias += JAZZY_SEVENTH_BONUS * _quality_vector(SEVENTH_LIKE)
    m = float(controls.mood)
    if m:
        major = np.array([TRIAD_OF[c.quality] in ("maj", "aug") for c in ALL_CLASSES], dtype=float)
        minor = np.array([TRIAD_OF[c.quality] in ("min", "dim") for c in ALL_CLASSES], dtype=float)
        bias += m * MOOD_QUALITY_WEIGHT * (major - minor)
        borrowed = _BORROWED_BRIGHT_MINOR if controls.minor else _BORROWED_DARK_MAJOR
        if (m > 0) if controls.minor else (m < 0):
            vec = np.array([(c.root, TRIAD_OF[c.quality]) in borrowed for c in ALL_CLASSES], dtype=float)
            bias += abs(m) * MOOD_BORROWED_WEIGHT * vec
    return bias


@lru_cache(maxsize=1)
def fourth_up_bonus() -> np.ndarray:
    """ii-V and V-I: a move whose root rises a fourth from a minor, half-diminished or dominant
    chord (or, at triad level, any major/minor/diminished triad) gets a bonus."""
    bonus = np.zeros((N_CLASSES, N_CLASSES))
    roots = np.array([c.root for c in ALL_CLASSES])
    up4 = (roots[None, :] - roots[:, None]) % 12 == 5
    src = np.array([c.quality in ("min7", "m7b5", "7", "9", "min", "maj", "dim") for c in ALL_CLASSES])
    dst_dom = np.array([c.quality in ("7", "9", "maj") for c in ALL_CLASSES])
    bonus[up4 & src[:, None]] = 0.5
    bonus[up4 & src[:, None] & dst_dom[None, :]] = 1.0
    return bonus


@lru_cache(maxsize=4)
def _pooled_transitions(model: HarmonyModel, style: str) -> np.ndarray:
    g = np.zeros((N_CLASSES, N_CLASSES))
    g[np.arange(N_CLASSES), base_map(style)] = 1.0
    prior = np.exp(model.log_prior.astype(float))
    trans = np.exp(np.where(np.isfinite(model.log_transition), model.log_transition, -np.inf))
    joint = g.T @ (prior[:, None] * trans) @ g
    np.fill_diagonal(joint, 0.0)
    joint /= np.maximum(joint.sum(axis=1, keepdims=True), 1e-30)
    with np.errstate(divide="ignore"):
        return np.log(joint)


def _pool(log_p: np.ndarray, target: np.ndarray) -> np.ndarray:
    """log-sum-exp of columns onto their target columns (others -inf)."""
    mx = log_p.max(axis=1, keepdims=True)
    pooled = np.zeros_like(log_p, dtype=float)
    np.add.at(pooled.T, target, np.exp(log_p - mx).T)
    with np.errstate(divide="ignore"):
        return np.log(pooled) + mx


@dataclass(frozen=True)
class BeatScores:
    emission: np.ndarray  # (n, N_CLASSES)
    log_stay: np.ndarray  # (n,)
    log_change: np.ndarray  # (n,)
    transition: np.ndarray  # (N_CLASSES, N_CLASSES), -inf on the diagonal


def _stay_change(logit: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    return -np.logaddexp(0.0, logit) * weight, -np.logaddexp(0.0, -logit) * weight


def _prune(scores: BeatScores, allowed: np.ndarray | None, candidates_per_beat: int | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept class indices, emission over them, transitions over them)."""
    emit = np.where(np.isfinite(scores.emission), scores.emission, NEG)
    if allowed is not None:
        emit = np.where(allowed, emit, NEG)
    keep = np.flatnonzero((emit > NEG / 2).any(axis=0))
    if len(keep) == 0:
        keep = np.arange(emit.shape[1])
    if candidates_per_beat is not None and candidates_per_beat < len(keep):
        top = np.argpartition(-emit, candidates_per_beat, axis=1)[:, :candidates_per_beat]
        mask = np.zeros(emit.shape[1], dtype=bool)
        mask[top.ravel()] = True
        if allowed is not None:  # keep every class a constraint names
            constrained = ~allowed.all(axis=1)
            mask |= allowed[constrained].any(axis=0)
        keep = np.flatnonzero(mask)
    trans = np.where(np.isfinite(scores.transition), scores.transition, NEG)[np.ix_(keep, keep)]
    return keep, emit[:, keep], trans


def viterbi(scores: BeatScores, allowed: np.ndarray | None = None, *,
            candidates_per_beat: int | None = None) -> np.ndarray:
    """Best class per beat. `allowed` (n, N_CLASSES) bool restricts beats to some classes.
    `candidates_per_beat` searches only the union of each beat's best few classes (faster on
    long songs; None searches the whole vocabulary)."""
    keep, emit, trans = _prune(scores, allowed, candidates_per_beat)
    n, c = emit.shape
    score = emit[0].copy()
    back = np.zeros((n, c), dtype=np.int32)
    cols = np.arange(c)
    for t in range(1, n):
        stay = score + scores.log_stay[t]
        total = score[:, None] + trans
        best_prev = np.argmax(total, axis=0)
        move = total[best_prev, cols] + scores.log_change[t]
        take_stay = stay >= move
        back[t] = np.where(take_stay, cols, best_prev)
        score = np.where(take_stay, stay, move) + emit[t]
    path = np.zeros(n, dtype=np.int32)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return keep[path]


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    mx = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(mx, axis=axis) + np.log(np.sum(np.exp(x - mx), axis=axis))


def sample(scores: BeatScores, rng: np.random.Generator, *, temperature: float, margin: float,
           allowed: np.ndarray | None = None, candidates_per_beat: int | None = None) -> np.ndarray:
    """A chord sequence drawn from the scores' distribution sharpened by `temperature` (forward
    filtering, backward sampling), each beat choosing only among chords whose emission is within
    `margin` of that beat's best (no long shots); temperature 0 is the Viterbi path."""
    if temperature <= 0:
        return viterbi(scores, allowed, candidates_per_beat=candidates_per_beat)
    keep, emit, trans = _prune(scores, allowed, candidates_per_beat)
    emit = np.where(emit >= emit.max(axis=1, keepdims=True) - margin, emit, NEG)
    k = 1.0 / temperature
    emit, trans = emit * k, trans * k
    stay, move = scores.log_stay * k, scores.log_change * k
    n, c = emit.shape
    alpha = np.zeros((n, c))
    alpha[0] = emit[0]
    for t in range(1, n):
        moved = _logsumexp(alpha[t - 1][:, None] + trans, axis=0) + move[t]
        alpha[t] = np.logaddexp(alpha[t - 1] + stay[t], moved) + emit[t]

    def draw(logw: np.ndarray) -> int:
        w = np.exp(logw - logw.max())
        return int(rng.choice(len(w), p=w / w.sum()))

    path = np.zeros(n, dtype=np.int64)
    path[-1] = draw(alpha[-1])
    for t in range(n - 1, 0, -1):
        j = path[t]
        logw = alpha[t - 1] + trans[:, j] + move[t]
        logw[j] = alpha[t - 1, j] + stay[t]
        path[t - 1] = draw(logw)
    return keep[path]


@lru_cache(maxsize=1)
def tone_table() -> np.ndarray:
    """(class, pitch class): True for the chord's tones."""
    table = np.zeros((N_CLASSES, 12), dtype=bool)
    for j, c in enumerate(ALL_CLASSES):
        table[j, [(c.root + i) % 12 for i in CHORD_QUALITIES[c.quality]]] = True
    return table


@lru_cache(maxsize=1)
def fit_table() -> np.ndarray:
    """(pitch class, class): +1 for a chord tone, -1 a semitone from one, -0.3 otherwise."""
    table = np.full((12, N_CLASSES), -0.3)
    for j, c in enumerate(ALL_CLASSES):
        tones = {(c.root + i) % 12 for i in CHORD_QUALITIES[c.quality]}
        for pc in range(12):
            if pc in tones:
                table[pc, j] = 1.0
            elif {(pc + 1) % 12, (pc - 1) % 12} & tones:
                table[pc, j] = -1.0
    return table


@dataclass(frozen=True)
class MelodyFit:
    """The melody's CTnCTR counts per beat for every chord class (`harmony_metrics.ctnctr_counts`
    in the key-relative frame): a chord path's CTnCTR is `ratio(path)`."""

    numerator: np.ndarray  # (n, N_CLASSES): chord tones + proper non-chord tones, in beats
    denominator: np.ndarray  # (n,): sounding melody, in beats

    def ratio(self, path: np.ndarray) -> float:
        total = float(self.denominator.sum())
        if total <= 0:
            return 0.0
        return float(self.numerator[np.arange(len(path)), path].sum()) / total


def path_score(scores: BeatScores, path: np.ndarray) -> float:
    """Log score of a class path under `scores` (emissions, stay/change and transitions)."""
    t = np.arange(1, len(path))
    moved = path[1:] != path[:-1]
    trans = np.where(np.isfinite(scores.transition), scores.transition, NEG)[path[:-1], path[1:]]
    steps = np.where(moved, scores.log_change[t] + trans, scores.log_stay[t])
    return float(scores.emission[np.arange(len(path)), path].sum() + steps.sum())


def _aim_fit(run, scores: BeatScores, path: np.ndarray, fit: MelodyFit, *, target: float,
             max_weight: float, budget: float) -> np.ndarray:
    """A triad path whose CTnCTR is at most `target`, found with the smallest penalty per beat
    of fitting melody that gets it there (bisection on the Lagrange multiplier, up to
    `max_weight`), as long as the path stays plausible: it may score at most `budget` per beat
    below the most likely path `path`. A passage whose melody leaves no plausible looser fit (an
    arpeggio of one chord) keeps its chords. `run(penalty)` decodes a path."""
    if fit.ratio(path) <= target:
        return path
    floor = path_score(scores, path) - budget * len(path)

    def plausible(p: np.ndarray) -> bool:
        return path_score(scores, p) >= floor

    lo_path = path
    hi_path = run(max_weight * fit.numerator)
    if fit.ratio(hi_path) > target and plausible(hi_path):
        return hi_path
    lo, hi = 0.0, max_weight
    for _ in range(FIT_SEARCH_STEPS):
        mid = (lo + hi) / 2
        trial = run(mid * fit.numerator)
        if fit.ratio(trial) <= target or not plausible(trial):
            hi, hi_path = mid, trial
        else:
            lo, lo_path = mid, trial
    return hi_path if plausible(hi_path) else lo_path


def spelled_out(path: np.ndarray, melody_pcs: np.ndarray) -> np.ndarray:
    """Beats of `path` inside a chord span where the melody sings every tone of the chord (each
    for at least SPELLED_TONE_BEATS): the melody spells the chord out."""
    out = np.zeros(len(path), dtype=bool)
    tones = tone_table()
    start = 0
    for b in range(1, len(path) + 1):
        if b == len(path) or path[b] != path[start]:
            sung = melody_pcs[start:b].sum(axis=0) >= SPELLED_TONE_BEATS
            out[start:b] = bool(np.all(sung[tones[path[start]]]))
            start = b
    return out


def decode(model: HarmonyModel, log_post: np.ndarray, change_logit: np.ndarray,
           controls: Controls, *, melody_pcs: np.ndarray | None = None,
           melody_fit: MelodyFit | None = None,
           allowed: np.ndarray | None = None, bias: np.ndarray | None = None, seed: int = 0,
           params: DecodeParams | None = None, candidates_per_beat: int | None = None) -> np.ndarray:
    """Class index per beat: the triad pass, then the colour pass. `melody_pcs` (n, 12), the
    melody's key-relative pitch-class time per beat, adds an explicit chord-tone fit term;
    `melody_fit` lets the triad pass aim for the human-like CTnCTR of `params.fit_target`."""
    p = params or model.params
    style = controls.harmony
    rng = np.random.default_rng(seed)
    extra = class_bias(controls)[None, :] + (0.0 if bias is None else bias)
    if melody_pcs is not None and p.fit_weight:
        extra = extra + p.fit_weight * (melody_pcs @ fit_table())
    if allowed is not None and allowed.all():
        allowed = None

    # Pass 1: triads.
    target = base_map(style)
    post1 = _pool(log_post, target)
    prior1 = _pool(model.log_prior[None, :].astype(float), target)[0]
    emit1 = post1 - p.prior_weight * np.log(np.exp(prior1) + p.prior_smoothing)
    is_base = np.zeros(N_CLASSES, dtype=bool)
    is_base[np.unique(target)] = True
    emit1 = np.where(is_base[None, :], emit1 + extra, NEG)
    trans1 = _pooled_transitions(model, style)
    change_bias = p.change_bias
    if style == "simple":
        change_bias += SIMPLE_CHANGE_BIAS
    if style == "jazzy":
        trans1 = trans1 + JAZZY_FOURTH_BONUS * fourth_up_bonus()
        change_bias += JAZZY_CHANGE_BIAS
    stay1, move1 = _stay_change(change_logit[:, 0] + change_bias, p.change_weight)
    allowed1 = None
    if allowed is not None:
        allowed1 = np.zeros_like(allowed)
        rows, cols = np.nonzero(allowed)
        allowed1[rows, target[cols]] = True
    scores1 = BeatScores(emit1, stay1, move1, p.transition_weight * trans1)

    def triads(penalty: np.ndarray | None, gen: np.random.Generator,
               allowed_beats: np.ndarray | None) -> np.ndarray:
        scores = scores1 if penalty is None else replace(scores1, emission=emit1 - penalty)
        return sample(scores, gen, temperature=p.temperature, margin=p.sample_margin,
                      allowed=allowed_beats, candidates_per_beat=candidates_per_beat)

    path1 = triads(None, rng, allowed1)
    if melody_fit is not None and melody_pcs is not None and p.fit_target_weight > 0 \
            and p.fit_target < 1:
        # Where the melody spells out its chord (C E G under C), the chord stays.
        kept = spelled_out(path1, melody_pcs)
        aim_allowed = np.ones_like(emit1, dtype=bool) if allowed1 is None else allowed1.copy()
        aim_allowed[kept] = False
        aim_allowed[np.flatnonzero(kept), path1[kept]] = True
        # Each penalised try draws with the same numbers: its path moves only with the penalty.
        path1 = _aim_fit(lambda pen: triads(pen, np.random.default_rng([seed, 1]), aim_allowed),
                         scores1, path1, melody_fit, target=p.fit_target,
                         max_weight=p.fit_target_weight, budget=p.fit_target_budget)

    # Pass 2: colours within each beat's triad.
    allowed2 = (target[None, :] == path1[:, None]) & output_classes(style)[None, :]
    if allowed is not None:  # constrained beats: the constraint's chords within the chosen triad
        constrained = ~allowed.all(axis=1)
        within = allowed & (target[None, :] == path1[:, None])
        allowed2[constrained] = np.where(within[constrained].any(axis=1, keepdims=True),
                                         within[constrained], allowed[constrained])
    emit2 = log_post - p.colour_prior_weight * np.log(np.exp(model.log_prior) + p.prior_smoothing) \
        + extra
    trans2 = model.log_transition.astype(float)
    if style == "jazzy":
        trans2 = trans2 + JAZZY_FOURTH_BONUS * fourth_up_bonus()
    stay2, move2 = _stay_change(change_logit[:, 1] + p.colour_change_bias, p.change_weight)
    return sample(BeatScores(emit2, stay2, move2, p.colour_transition_weight * trans2), rng,
                  temperature=p.colour_temperature, margin=p.sample_margin, allowed=allowed2,
                  candidates_per_beat=16)

"""Rebuild the harmoniser's weights (`src/tunesmith/models/harmony.npz`) from POP909.

Data: the MELODY track, `chord_midi.txt`, `beat_midi.txt` and `key_audio.txt` of POP909 songs
001-800 (training); songs 801-850 (validation) choose the epoch and tune the decoder's weights;
the test songs 851-909 are never read here (bench/harmony.py reports on them).

Every song is put on its annotated beat grid and transposed so that the tonic of its (relative)
major key is C (per key segment when the song modulates). Per beat:
- features: `tunesmith.compose.harmony_features.beat_features`;
- label: the chord sounding longest over the beat, mapped onto the 312-class vocabulary of
  `tunesmith.compose.harmony_vocab` (beats without a chord are left out);
- change: whether the triad, and whether the chord label, differ from the previous beat's.

Model: an MLP (160 -> 256 -> 256, ReLU, dropout) with a softmax chord head and a two-sigmoid
change head, trained with AdamW (torch, CPU, one thread), the epoch chosen by validation loss.
Transitions: a bigram over chord changes, backed off to a key-independent model of root motion
and chord types, backed off to the chords' frequency. Then a coordinate search over the
decoder's weights on validation (see `tune` and `aim`): first the most likely sequence's weights
for per-beat triad accuracy, then prior division, sampling and the chord-tone fit term for triad
+ seventh accuracy under human-like variety, clashes and chord rhythm, then the fit the decoder
aims for (CTnCTR target, penalty, plausibility budget) with the chord rhythm and fit weights
again, so that CTnCTR, PCS and MCTD sit near the human songs' median and chords change about
as often as the human chords, at the least cost in accuracy.

    pip install -e '.[train]'        # torch, training only; tunesmith runs the weights with NumPy
    python training/train_harmony.py [DATA_DIR] [--epochs 30] [--out src/tunesmith/models/harmony.npz]
    python training/train_harmony.py --retune src/tunesmith/models/harmony.npz   # decoder only
    python training/train_harmony.py --retune src/tunesmith/models/harmony.npz --aim-only  # step 3 only

Last full run (network, steps 1-2, before step 3 existed): 9 min 38 s wall (517 s CPU) on the
shared 2-core dev machine, POP909 read from scratch (about 35 s; cached in .bench-cache/ for the
next run); deterministic: a rebuild gave the shipped arrays bit for bit. Step 3 (`--aim-only`
on that model): 8 min 41 s wall on the same machine; it reads the validation melodies again.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from tunesmith.compose.harmony_data import (
    TRAIN_IDS,
    VALIDATION_IDS,
    PopSong,
    default_data_dir,
    iter_songs,
)
from tunesmith.compose.harmony_decode import Controls, MelodyFit, base_map, decode, tone_table
from tunesmith.compose.harmony_features import N_FEATURES, beat_features
from tunesmith.compose.harmony_metrics import ctnctr_counts, fit_metrics
from tunesmith.compose.harmony_model import (
    DEFAULT_MODEL_PATH,
    INPUT_CLIP,
    DecodeParams,
    HarmonyModel,
    decode_params,
    load_model,
)
from tunesmith.compose.harmony_vocab import (
    ALL_CLASSES,
    N_CLASSES,
    N_TYPES,
    ChordClass,
    chord_class,
    class_of,
    class_pitch_classes,
    frame_tonic,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench-cache" / "harmony-pop909-v3.npz"
SEED = 909


@dataclass
class SongArrays:
    song_id: int
    x: np.ndarray  # (n, N_FEATURES)
    y: np.ndarray  # (n,) class, -1 = no chord
    change: np.ndarray  # (n, 2) triad changes / label changes: 1 change, 0 stay, -1 unknown
    tonic: np.ndarray  # (n,) frame tonic per beat
    minor: np.ndarray  # (n,) bool


def song_arrays(song: PopSong) -> SongArrays:
    keys = song.beat_keys()
    tonic = np.array([frame_tonic(k) for k in keys])
    minor = np.array([k.mode == "minor" for k in keys])
    x = beat_features(song.melody, song.grid, frame_tonic=tonic, minor=minor)
    chords = song.beat_chords()
    y = np.array([-1 if c is None else class_of(c, int(t)).index for c, t in zip(chords, tonic, strict=True)])
    return SongArrays(song.song_id, x, y, change_labels(y), tonic, minor)


def change_labels(y: np.ndarray) -> np.ndarray:
    """(n, 2): does the triad change on this beat; does the chord label change."""
    change = np.full((len(y), 2), -1)
    ok = (y[1:] >= 0) & (y[:-1] >= 0)
    tri = base_map("rich")[np.maximum(y, 0)]
    change[1:, 0][ok] = (tri[1:] != tri[:-1])[ok]
    change[1:, 1][ok] = (y[1:] != y[:-1])[ok]
    return change


def load_all(data_dir: Path, ids: list[int], cache: Path | None) -> list[SongArrays]:
    if cache and cache.is_file():
        with np.load(cache) as z:
            arrays = {k: z[k] for k in z.files}  # each z[k] reads the file: once each
        if list(arrays["ids"]) == ids and arrays["x"].shape[1] == N_FEATURES:
            bounds = np.concatenate([[0], np.cumsum(arrays["lengths"])])
            return [SongArrays(int(sid), *(arrays[k][a:b] for k in ("x", "y", "change", "tonic", "minor")))
                    for sid, a, b in zip(arrays["song_ids"], bounds[:-1], bounds[1:], strict=True)]
    songs = [song_arrays(s) for s in iter_songs(ids, data_dir)]
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, ids=np.array(ids), song_ids=np.array([s.song_id for s in songs]),
                 lengths=np.array([len(s.y) for s in songs]),
                 x=np.vstack([s.x for s in songs]), y=np.concatenate([s.y for s in songs]),
                 change=np.vstack([s.change for s in songs]),
                 tonic=np.concatenate([s.tonic for s in songs]),
                 minor=np.concatenate([s.minor for s in songs]))
    return songs


# ---------------------------------------------------------------- chord prior and transitions

def chord_prior(train: list[SongArrays]) -> np.ndarray:
    y = np.concatenate([s.y for s in train])
    counts = np.bincount(y[y >= 0], minlength=N_CLASSES).astype(float) + 0.5
    return np.log(counts / counts.sum())


def transitions(train: list[SongArrays], *, k_bigram: float = 4.0, k_motion: float = 20.0) -> np.ndarray:
    """log p(next | previous, the chord changes): bigram, backed off to root motion + types,
    backed off to the frequency of chords that are changed to."""
    big = np.zeros((N_CLASSES, N_CLASSES))
    motion = np.zeros((N_TYPES, 12, N_TYPES))  # previous type, root interval, next type
    for s in train:
        idx = np.flatnonzero(s.change[:, 1] == 1)
        a, b = s.y[idx - 1], s.y[idx]
        np.add.at(big, (a, b), 1.0)
        ra, ta = np.divmod(a, N_TYPES)
        rb, tb = np.divmod(b, N_TYPES)
        np.add.at(motion, (ta, (rb - ra) % 12, tb), 1.0)
    target = big.sum(axis=0) + 1.0
    unigram = target / target.sum()
    roots = np.array([c.root for c in ALL_CLASSES])
    types = np.arange(N_CLASSES) % N_TYPES
    out = np.zeros((N_CLASSES, N_CLASSES))
    for i in range(N_CLASSES):
        ti, ri = i % N_TYPES, roots[i]
        m = motion[ti, (roots - ri) % 12, types]  # counts for each next class
        u = unigram.copy()
        u[i] = 0.0
        u /= u.sum()
        m = m.copy()
        m[i] = 0.0
        back = (m + k_motion * u) / (m.sum() + k_motion)
        row = big[i].copy()
        row[i] = 0.0
        p = (row + k_bigram * back) / (row.sum() + k_bigram)
        p[i] = 0.0
        out[i] = np.log(np.maximum(p / p.sum(), 1e-12))
    np.fill_diagonal(out, -np.inf)
    return out


# ---------------------------------------------------------------- emission network

def train_network(train: list[SongArrays], val: list[SongArrays], *, epochs: int, hidden: int,
                  log: list[str]) -> dict[str, np.ndarray]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    x_tr = np.vstack([s.x for s in train])
    mean = x_tr.mean(axis=0)
    scale = x_tr.std(axis=0) + 1e-3

    def tensors(songs: list[SongArrays]) -> tuple:
        x = np.clip((np.vstack([s.x for s in songs]) - mean) / scale, -INPUT_CLIP, INPUT_CLIP)
        y = np.concatenate([s.y for s in songs])
        ch = np.vstack([s.change for s in songs])
        return (torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long),
                torch.tensor(ch, dtype=torch.float32))

    xt, yt, ct = tensors(train)
    xv, yv, cv = tensors(val)
    net = nn.Sequential(nn.Linear(N_FEATURES, hidden), nn.ReLU(), nn.Dropout(0.3),
                        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.3))
    chord_head = nn.Linear(hidden, N_CLASSES)
    change_head = nn.Linear(hidden, 2)
    params = list(net.parameters()) + list(chord_head.parameters()) + list(change_head.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    ce = nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=0.05)
    bce = nn.BCEWithLogitsLoss(reduction="none")

    def loss_of(x, y, ch):
        h = net(x)
        loss = ce(chord_head(h), y)
        mask = ch >= 0
        if mask.any():
            loss = loss + 0.5 * bce(change_head(h)[mask], ch[mask]).mean()
        return loss

    best = (np.inf, None, -1)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for k in range(0, len(perm), 512):
            b = perm[k:k + 512]
            opt.zero_grad()
            loss = loss_of(xt[b], yt[b], ct[b])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        sched.step()
        net.eval()
        with torch.no_grad():
            vloss = float(loss_of(xv, yv, cv))
            pred = chord_head(net(xv)).argmax(dim=1)
            ok = yv >= 0
            acc = float((pred[ok] == yv[ok]).float().mean())
        line = f"epoch {epoch + 1:2d}: train loss {total / len(perm):.3f}  val loss {vloss:.3f}  val beat acc (full label) {acc:.3f}"
        print(line, flush=True)
        log.append(line)
        if vloss < best[0]:
            state = {k: v.detach().clone() for k, v in
                     list(net.state_dict().items()) + [("head." + k, v) for k, v in chord_head.state_dict().items()]
                     + [("change." + k, v) for k, v in change_head.state_dict().items()]}
            best = (vloss, state, epoch + 1)
    print(f"best epoch {best[2]} (val loss {best[0]:.3f})")
    log.append(f"best epoch {best[2]} (val loss {best[0]:.3f})")
    st = best[1]
    assert st is not None
    return {
        "mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
        "layer0_w": st["0.weight"].numpy().T, "layer0_b": st["0.bias"].numpy(),
        "layer1_w": st["3.weight"].numpy().T, "layer1_b": st["3.bias"].numpy(),
        "chord_w": st["head.weight"].numpy().T, "chord_b": st["head.bias"].numpy(),
        "change_w": st["change.weight"].numpy().T, "change_b": st["change.bias"].numpy(),
    }


def build_model(w: dict[str, np.ndarray], log_prior: np.ndarray, log_trans: np.ndarray,
                params: DecodeParams, meta: dict) -> HarmonyModel:
    f16 = lambda a: a.astype(np.float16).astype(np.float32)  # noqa: E731 - as shipped
    return HarmonyModel(
        mean=w["mean"], scale=w["scale"],
        layers=((f16(w["layer0_w"]), w["layer0_b"]), (f16(w["layer1_w"]), w["layer1_b"])),
        chord_head=(f16(w["chord_w"]), w["chord_b"]), change_head=(f16(w["change_w"]), w["change_b"]),
        log_prior=log_prior.astype(np.float32),
        log_transition=np.where(np.isfinite(log_trans), f16(np.maximum(log_trans, -30.0)), -np.inf),
        params=params, meta=meta)


# ---------------------------------------------------------------- decoder tuning on validation

def triad_key(cls: np.ndarray) -> np.ndarray:
    """The triad class of each class (root + triad quality), for per-beat triad accuracy."""
    return base_map("rich")[cls]


def seventh_key(cls: np.ndarray) -> np.ndarray:
    """Root and full quality, bass ignored."""
    table = np.array([ChordClass(c.root, c.quality).index for c in ALL_CLASSES])
    return table[cls]


def melody_span(s: SongArrays) -> np.ndarray:
    """Beats inside the melody's span with a labelled chord (as in bench/harmony.py)."""
    before, after = N_FEATURES - 5, N_FEATURES - 4  # phrase flags: before / after the melody
    return (s.x[:, before] == 0) & (s.x[:, after] == 0) & (s.y >= 0)


def diversity(cls: np.ndarray) -> tuple[float, float]:
    """Chord coverage (distinct labels) and chord histogram entropy of a sequence."""
    if len(cls) == 0:
        return 0.0, 0.0
    _, counts = np.unique(cls, return_counts=True)
    p = counts / counts.sum()
    return float(len(counts)), float(-(p * np.log(p)).sum())


@lru_cache(maxsize=1)
def _clash_table() -> np.ndarray:
    """(class, pitch class): the note is a semitone from a chord tone and not one itself."""
    table = np.zeros((N_CLASSES, 12))
    for i, c in enumerate(ALL_CLASSES):
        tones = set(class_pitch_classes(c))
        for pc in range(12):
            table[i, pc] = pc not in tones and bool({(pc + 1) % 12, (pc - 1) % 12} & tones)
    return table


def clash(cls: np.ndarray, dur: np.ndarray) -> float:
    """Share of melody time a semitone away from the chord (dur: pitch-class time per beat)."""
    return float((dur * _clash_table()[cls]).sum() / max(dur.sum(), 1e-9))


@dataclass
class SongMelody:
    """What the fit metrics need of a validation song besides its arrays: the melody, its
    CTnCTR counts per beat and chord, and the human chords' fit metrics."""

    melody: tuple
    fit: MelodyFit
    human: dict[str, float]


AIM_METRICS = ("CTnCTR", "PCS", "MCTD")


def song_melodies(data_dir: Path, val: list[SongArrays]) -> list[SongMelody]:
    by_id = {s.song_id: s for s in val}
    out = []
    for song in iter_songs([s.song_id for s in val], data_dir):
        s = by_id[song.song_id]
        fit = MelodyFit(*ctnctr_counts(song.melody, len(s.y), frame_tonic=s.tonic, tones=tone_table()))
        out.append(SongMelody(song.melody, fit, fit_metrics(song.melody, song.beat_chords(), melody_span(s))))
    return out


def evaluate(model: HarmonyModel, songs: list[SongArrays], preds: list[tuple[np.ndarray, np.ndarray]],
             params: DecodeParams, candidates: int | None = 24,
             melodies: list[SongMelody] | None = None) -> dict[str, float]:
    """Per-beat accuracy, chord rhythm, diversity (CC, CHE) and clashes on the melody's span,
    ours and the human chords'; with `melodies`, also the mean and the human median and sd of
    the fit metrics CTnCTR, PCS and MCTD (the decoder then aims for its `fit_target`)."""
    tri = sev = total = changes = human_changes = 0
    cc, che, hcc, hche, cl, hcl = [], [], [], [], [], []
    fits: list[dict[str, float]] = []
    for i, (s, (lp, cl_)) in enumerate(zip(songs, preds, strict=True)):
        mel = melodies[i] if melodies else None
        path = decode(model, lp, cl_, Controls(harmony="rich", minor=bool(s.minor.mean() > 0.5)),
                      melody_pcs=s.x[:, :12], melody_fit=mel.fit if mel else None, params=params,
                      candidates_per_beat=candidates)
        ok = melody_span(s)
        tri += int((triad_key(path[ok]) == triad_key(s.y[ok])).sum())
        sev += int((seventh_key(path[ok]) == seventh_key(s.y[ok])).sum())
        total += int(ok.sum())
        changes += int((path[1:] != path[:-1])[ok[1:]].sum())
        human_changes += int((s.change[1:, 1] == 1)[ok[1:]].sum())
        for out, seq in ((cc, path[ok]), (hcc, s.y[ok])):
            out.append(diversity(seq)[0])
        for out, seq in ((che, path[ok]), (hche, s.y[ok])):
            out.append(diversity(seq)[1])
        cl.append(clash(path[ok], s.x[ok, :12]))
        hcl.append(clash(s.y[ok], s.x[ok, :12]))
        if mel:
            chords = [chord_class(int(c)).to_symbol(int(t)) for c, t in zip(path, s.tonic, strict=True)]
            fits.append(fit_metrics(mel.melody, chords, ok))
    out = {"triad_acc": tri / max(total, 1), "seventh_acc": sev / max(total, 1),
           "changes_per_beat": changes / max(total, 1),
           "human_changes_per_beat": human_changes / max(total, 1),
           "cc": float(np.mean(cc)), "che": float(np.mean(che)), "clash": float(np.mean(cl)),
           "human_cc": float(np.mean(hcc)), "human_che": float(np.mean(hche)),
           "human_clash": float(np.mean(hcl)),
           "human_cc_p25": float(np.percentile(hcc, 25)), "human_che_p25": float(np.percentile(hche, 25))}
    if melodies:
        for m in AIM_METRICS:
            human = np.array([x.human[m] for x in melodies])
            out[m.lower()] = float(np.mean([f[m] for f in fits]))
            out[f"human_{m.lower()}_median"] = float(np.median(human))
            out[f"human_{m.lower()}_sd"] = float(np.std(human))
    return out


NEAR_MEDIAN_SD = 0.5  # step 3: a fit metric within this many human sd of the human median is "near"
RHYTHM_TOLERANCE = 0.05  # step 3: chord changes within 5 % of the human rate


def aim_objective(r: dict) -> float:
    """Step 3's objective: triad + seventh accuracy, less 0.2 per human sd that the mean
    CTnCTR, PCS or MCTD lies beyond half an sd from the human median, and less 0.5 per unit
    that the chord-change rate's ratio to the human one lies beyond 1 +- 0.05."""
    far = sum(max(0.0, abs(r[m.lower()] - r[f"human_{m.lower()}_median"]) / r[f"human_{m.lower()}_sd"]
                  - NEAR_MEDIAN_SD) for m in AIM_METRICS)
    rhythm = max(0.0, abs(r["changes_per_beat"] / r["human_changes_per_beat"] - 1.0) - RHYTHM_TOLERANCE)
    return (r["triad_acc"] + r["seventh_acc"]) / 2 - 0.2 * far - 0.5 * rhythm


def _search(model: HarmonyModel, val: list[SongArrays], preds: list, log: list[str],
            current: dict, grid: dict, objective, melodies: list[SongMelody] | None = None) -> dict:
    """Coordinate search, two rounds over `grid`, keeping a value when it raises `objective`."""
    best = objective(evaluate(model, val, preds, DecodeParams(**current), melodies=melodies))
    for _round in range(2):
        for name, values in grid.items():
            for v in values:
                trial = dict(current, **{name: v})
                score = objective(evaluate(model, val, preds, DecodeParams(**trial), melodies=melodies))
                if score > best + 1e-4:
                    best, current = score, trial
            line = f"tuned {name} = {current[name]} (objective {best:.4f})"
            print(line, flush=True)
            log.append(line)
    return current


def tune(model: HarmonyModel, val: list[SongArrays], log: list[str]) -> DecodeParams:
    """Coordinate search of the decoder's weights on the validation songs, steps 1 and 2 (step
    3 is `aim`).

    1. The most likely sequence (no sampling): the triad pass's weights maximise per-beat
       triad accuracy.
    2. Sampling and colours: maximise triad + seventh accuracy while the songs' chord coverage
       and histogram entropy reach the human songs' lower quartile, melody clashes (notes a
       semitone from a chord tone) stay at the human rate or below and chords change at least
       0.85 times as often as the human chords. A harmoniser that says C, F, G all song long
       can be "accurate" but is not what a musician wants; one that sprays colours is worse.
    """
    preds = [model.predict(s.x) for s in val]

    def search(current: dict, grid: dict, objective) -> dict:
        return _search(model, val, preds, log, current, grid, objective)

    log.append("step 1: the most likely triads, for accuracy")
    current = dict(DecodeParams().__dict__, temperature=0.0, colour_temperature=0.0)
    current = search(current, {
        "prior_weight": (0.0, 0.2, 0.4, 0.6, 0.8),
        "transition_weight": (0.25, 0.5, 0.75, 1.0, 1.5),
        "change_weight": (0.5, 1.0, 1.5, 2.0),
        "change_bias": (-0.5, 0.0, 0.5, 1.0),
        "fit_weight": (0.0, 0.5, 1.0, 2.0, 3.0),
    }, lambda r: r["triad_acc"])

    def objective(r: dict) -> float:
        short = max(0.0, 1.0 - r["cc"] / r["human_cc_p25"]) + max(0.0, 1.0 - r["che"] / r["human_che_p25"]) \
            + max(0.0, r["clash"] / r["human_clash"] - 1.0) \
            + max(0.0, 0.85 - r["changes_per_beat"] / r["human_changes_per_beat"])
        return (r["triad_acc"] + r["seventh_acc"]) / 2 - 2.0 * short

    log.append("step 2: sampling and colours, for accuracy under human-like variety")
    current = search(current, {
        "prior_weight": (0.2, 0.4, 0.6, 0.8),
        "colour_prior_weight": (0.5, 0.75, 1.0),
        "prior_smoothing": (0.001, 0.003, 0.01),
        "colour_temperature": (0.0, 0.5, 1.0),
        "temperature": (0.0, 0.3, 0.6),
        "change_bias": (0.0, 0.5, 1.0, 1.5),
        "colour_change_bias": (-1.0, -0.5, 0.0, 0.5),
        "fit_weight": (0.0, 0.5, 1.0, 2.0, 3.0),
        "sample_margin": (1.5, 3.0, 6.0),
    }, objective)
    return DecodeParams(**current)


def aim(model: HarmonyModel, val: list[SongArrays], log: list[str], melodies: list[SongMelody],
        start: DecodeParams) -> DecodeParams:
    """Step 3, human-like fit (`aim_objective`): from the steps 1-2 weights `start`, the
    decoder's CTnCTR target and its weight, then the chord rhythm and the fit weights again, so
    that the melody fits our chords about as well as it fits the human ones (CTnCTR, PCS and
    MCTD near the human median, not at the most consonant edge) and chords change about as
    often, at the least cost in accuracy. The most likely chords hold more of the melody's notes
    than a songwriter's do: tuned for accuracy alone, the fit lands at the human 95th percentile."""
    preds = [model.predict(s.x) for s in val]
    log.append("step 3: human-like fit and chord rhythm")
    current = dict(start.__dict__, fit_target_weight=3.0, fit_target_budget=0.2)
    current = _search(model, val, preds, log, current, {
        "fit_target": (0.75, 0.8, 0.85, 0.87, 0.89, 0.91),
        "fit_target_weight": (1.5, 3.0, 6.0),
        "fit_target_budget": (0.05, 0.1, 0.2, 0.4),
        "change_bias": (0.5, 1.0, 1.5, 2.0),
        "fit_weight": (0.0, 0.5, 1.0, 2.0),
        "prior_weight": (0.0, 0.2, 0.4),
        "transition_weight": (0.25, 0.5, 1.0),
    }, aim_objective, melodies)
    result = evaluate(model, val, preds, DecodeParams(**current), melodies=melodies)
    line = "validation: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items())
    print(line)
    log.append(line)
    return DecodeParams(**current)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N training songs (a quick try)")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--retune", type=Path, default=None, metavar="MODEL",
                    help="keep this model's network and transitions, only tune the decoder again")
    ap.add_argument("--aim-only", action="store_true",
                    help="with --retune: keep the model's decoder weights too, only tune step 3 "
                         "(human-like fit and chord rhythm)")
    args = ap.parse_args()
    if args.aim_only and not args.retune:
        ap.error("--aim-only goes with --retune MODEL")
    data_dir = args.data or default_data_dir()
    t0 = time.time()
    train_ids = list(TRAIN_IDS)[: args.limit] if args.limit else list(TRAIN_IDS)
    ids = train_ids + list(VALIDATION_IDS)
    songs = load_all(data_dir, ids, None if args.no_cache or args.limit else CACHE)
    train = [s for s in songs if s.song_id in TRAIN_IDS]
    val = [s for s in songs if s.song_id in VALIDATION_IDS]
    n_tr = sum(int((s.y >= 0).sum()) for s in train)
    print(f"{len(train)} training songs ({n_tr} labelled beats), {len(val)} validation songs; "
          f"loaded in {time.time() - t0:.0f} s", flush=True)
    log: list[str] = []
    if args.retune:
        model = load_model(args.retune)
        old_log = model.meta.get("training_log", [])
        if args.aim_only:  # what steps 1-2 gave (a model from before step 3: its decoder weights)
            old_log = old_log[:next((i for i, line in enumerate(old_log) if line.startswith("step 3")),
                                    len(old_log))]
            kept: tuple[str, ...] = ("epoch", "best", "step", "tuned")
        else:
            kept = ("epoch", "best")
        log = [line for line in old_log if line.startswith(kept)]
        meta = {k: v for k, v in model.meta.items() if not k.startswith("validation_")}
    else:
        w = train_network(train, val, epochs=args.epochs, hidden=args.hidden, log=log)
        log_prior = chord_prior(train)
        log_trans = transitions(train)
        meta = {"data": "POP909 songs 001-800 (train), 801-850 (validation)",
                "train_songs": len(train), "train_beats": n_tr}
        model = build_model(w, log_prior, log_trans, DecodeParams(), meta)
    melodies = song_melodies(data_dir, val)
    if args.aim_only:
        no_aim = {k: getattr(DecodeParams, k) for k in ("fit_target", "fit_target_weight", "fit_target_budget")}
        before_aim = replace(decode_params(meta.get("params_before_aim", model.params.__dict__)), **no_aim)
    else:
        before_aim = tune(model, val, log)
    params = aim(model, val, log, melodies, before_aim)
    meta["params_before_aim"] = dict(before_aim.__dict__)
    model = replace(model, params=params)
    final = evaluate(model, val, [model.predict(s.x) for s in val], params, candidates=None,
                     melodies=melodies)
    meta.update({f"validation_{k}": round(v, 4) for k, v in final.items()})
    meta.update(training_log=log, seconds=round(time.time() - t0))
    model = replace(model, meta=meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(json.dumps({k: v for k, v in meta.items() if k != "training_log"}, indent=1))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""The learned harmony model: NumPy inference of the weights in `models/harmony.npz`.

Two parts, both trained on POP909 songs 001-800 by `training/train_harmony.py`:
- an emission network, a small MLP over per-beat melody features (`harmony_features`) with two
  heads: the chord of the beat (softmax over the key-relative vocabulary of `harmony_vocab`)
  and whether the chord changes on this beat (two sigmoids: the triad changes; the full chord
  label changes): the chord rhythm is learned too;
- a transition model: which chord follows which when the chord changes, a smoothed bigram over
  the vocabulary in the key-relative frame.

Decoding settings (how much the chord prior, the transitions and the change head weigh, and
the melody fit the decoder aims for) were tuned on the validation songs 801-850 and are stored
with the weights.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from tunesmith.compose.harmony_features import N_FEATURES
from tunesmith.compose.harmony_vocab import CHORD_TYPES, N_CLASSES
from tunesmith.errors import TunesmithError

MODEL_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MODEL_PATH = MODEL_DIR / "harmony.npz"
FORMAT_VERSION = 3
INPUT_CLIP = 5.0  # standardised features are clipped: a rare flag cannot swamp the network


class HarmonyModelError(TunesmithError):
    """The shipped harmony model is missing or does not match this version of tunesmith."""


@dataclass(frozen=True)
class DecodeParams:
    """How the two decoding passes weigh their parts (log domain). Pass 1 chooses the triad
    (root + maj/min/dim/aug/sus) per beat, pass 2 its colour (7th, 6th, inversion, slash bass)."""

    prior_weight: float = 0.5  # emission = log p(c|x) - prior_weight * log(p(c) + prior_smoothing)
    transition_weight: float = 1.0  # weight of log p(next chord | chord, change)
    change_weight: float = 1.0  # weight of log p(change) / log p(stay) from the change head
    change_bias: float = 0.0  # added to the change head's logit (> 0: more chord changes)
    colour_prior_weight: float = 0.5  # pass 2: as prior_weight
    colour_transition_weight: float = 1.0
    colour_change_bias: float = 0.0
    prior_smoothing: float = 0.003  # p(c) + this divides the posterior: rare chords are not inflated
    temperature: float = 0.5  # pass 1 draws from the model's distribution sharpened by this
    colour_temperature: float = 0.5  # (0: the single most likely sequence); the seed picks the draw
    fit_weight: float = 0.0  # x melody chord-tone fit per beat (+1 chord tone, -1 semitone clash)
    sample_margin: float = 3.0  # a draw considers chords within this of the beat's best emission
    # Human-like fit: the triad pass aims for a passage's CTnCTR (melody chord tones + proper
    # non-chord tones, see harmony_metrics) of at most `fit_target`, with a penalty of up to
    # `fit_target_weight` per beat of melody held by the chord (0: no aim, the most fitting
    # chords), giving up at most `fit_target_budget` of log score per beat.
    fit_target: float = 1.0
    fit_target_weight: float = 0.0
    fit_target_budget: float = 1.0


@dataclass(frozen=True, eq=False)
class HarmonyModel:
    mean: np.ndarray
    scale: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]  # hidden layers (weight, bias), ReLU
    chord_head: tuple[np.ndarray, np.ndarray]
    change_head: tuple[np.ndarray, np.ndarray]
    log_prior: np.ndarray  # (N_CLASSES,) log p(chord) on the training beats
    log_transition: np.ndarray  # (N_CLASSES, N_CLASSES) log p(next | previous, change), diag -inf
    params: DecodeParams = field(default_factory=DecodeParams)
    meta: dict = field(default_factory=dict)

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log posteriors (n, N_CLASSES) and change logits (n, 2: triad change, any change)."""
        with _one_blas_thread():  # small matrices: threads only wait for each other
            return self._predict(features)

    def _predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.clip((np.asarray(features, dtype=np.float32) - self.mean) / self.scale, -INPUT_CLIP, INPUT_CLIP)
        for w, b in self.layers:
            h = np.maximum(h @ w + b, 0.0)
        logits = h @ self.chord_head[0] + self.chord_head[1]
        logits = logits - logits.max(axis=1, keepdims=True)
        log_post = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        change_logit = h @ self.change_head[0] + self.change_head[1]
        return log_post, change_logit

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {
            "mean": self.mean, "scale": self.scale,
            "chord_w": self.chord_head[0].astype(np.float16), "chord_b": self.chord_head[1],
            "change_w": self.change_head[0].astype(np.float16), "change_b": self.change_head[1],
            "log_prior": self.log_prior.astype(np.float32),
            "log_transition": np.maximum(self.log_transition, -30.0).astype(np.float16),
        }
        for i, (w, b) in enumerate(self.layers):
            arrays[f"layer{i}_w"] = w.astype(np.float16)
            arrays[f"layer{i}_b"] = b
        meta = dict(self.meta, format=FORMAT_VERSION, n_features=N_FEATURES,
                    chord_types=[list(t) for t in CHORD_TYPES], params=self.params.__dict__)
        arrays["meta"] = np.array(json.dumps(meta))
        return arrays

    def save(self, path: Path) -> None:
        np.savez_compressed(path, **self.to_arrays())


def _one_blas_thread() -> AbstractContextManager:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def decode_params(stored: dict) -> DecodeParams:
    """Decoding settings from a stored dict (keys this version does not know are ignored)."""
    known = {f.name for f in fields(DecodeParams)}
    return DecodeParams(**{k: v for k, v in stored.items() if k in known})


def _f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def load_model(path: Path | None = None) -> HarmonyModel:
    """Load the harmony model (the shipped one by default). Cached: loading twice is free."""
    return _load(str(path or DEFAULT_MODEL_PATH))


@lru_cache(maxsize=2)
def _load(path: str) -> HarmonyModel:
    p = Path(path)
    if not p.is_file():
        raise HarmonyModelError(f"the harmony model is missing ({p}); reinstall tunesmith or "
                                "rebuild it with training/train_harmony.py")
    with np.load(p, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != FORMAT_VERSION or meta.get("n_features") != N_FEATURES or \
                [tuple(t) for t in meta.get("chord_types", [])] != list(CHORD_TYPES):
            raise HarmonyModelError(f"the harmony model {p.name} was built for another version "
                                    "of tunesmith; rebuild it with training/train_harmony.py")
        n_layers = sum(1 for k in z.files if k.startswith("layer") and k.endswith("_w"))
        layers = tuple((_f32(z[f"layer{i}_w"]), _f32(z[f"layer{i}_b"])) for i in range(n_layers))
        trans = _f32(z["log_transition"])
        np.fill_diagonal(trans, -np.inf)
        model = HarmonyModel(
            mean=_f32(z["mean"]), scale=_f32(z["scale"]), layers=layers,
            chord_head=(_f32(z["chord_w"]), _f32(z["chord_b"])),
            change_head=(_f32(z["change_w"]), _f32(z["change_b"])),
            log_prior=_f32(z["log_prior"]), log_transition=trans,
            params=decode_params(meta.get("params", {})), meta=meta)
    if model.log_prior.shape != (N_CLASSES,):
        raise HarmonyModelError(f"the harmony model {p.name} has the wrong chord vocabulary")
    return model

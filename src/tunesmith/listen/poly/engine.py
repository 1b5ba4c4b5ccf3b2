"""Note posteriors of a full mix from Spotify's basic-pitch model (ICASSP 2022), run on
onnxruntime.

The model ships in the `basic-pitch` package (Apache-2.0; installed with `--no-deps`, it brings
no TensorFlow). Only its `nmp.onnx` file is used: windowing and everything after inference are
done here, so basic-pitch's own Python code (and its librosa/resampy imports) never loads.

The model hears 2-second windows at 22,050 Hz and returns, every 256 samples (86 frames a
second), three posteriors: a note is sounding (88 piano keys), a note starts (88 keys) and a
pitch contour (264 bins, a third of a semitone each). Windows overlap by 30 frames; the 15 frames
at each edge of a window are dropped and the hop is chosen so that the kept frames tile the
recording exactly (a uniform frame grid, unlike basic-pitch's own stitching).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

MODEL_SAMPLE_RATE = 22050
HOP_SAMPLES = 256
FRAME_RATE_HZ = MODEL_SAMPLE_RATE / HOP_SAMPLES  # 86.13 frames a second
WINDOW_SAMPLES = MODEL_SAMPLE_RATE * 2 - HOP_SAMPLES  # 43,844: the model's fixed input length
WINDOW_FRAMES = 172
EDGE_FRAMES = 15  # dropped at each side of a window (half of basic-pitch's 30-frame overlap)
KEPT_FRAMES = WINDOW_FRAMES - 2 * EDGE_FRAMES
LOWEST_MIDI = 21  # A0, the first of the 88 note bins
N_PITCHES = 88
CONTOUR_BINS_PER_SEMITONE = 3
BATCH_WINDOWS = 16
FRAME_OFFSET_S = 0.0  # alignment of frame k with time k * hop (checked on synthetic tones)
_MODEL_RELATIVE_PATH = ("saved_models", "icassp_2022", "nmp.onnx")
_INPUT_NAME = "serving_default_input_2:0"
_OUTPUTS = ("StatefulPartitionedCall:1", "StatefulPartitionedCall:2", "StatefulPartitionedCall:0")


class EngineUnavailableError(TunesmithError):
    """The note model for full recordings is not installed."""


@dataclass(frozen=True)
class Activations:
    """Frame-wise posteriors (0-1) of a recording on a uniform grid of `frame_rate_hz`.

    `note` and `onset` are (n_frames, 88), column 0 = MIDI 21 (A0); `contour` is
    (n_frames, 264), three bins per semitone, bin 1 centred on MIDI 21.
    """

    note: np.ndarray
    onset: np.ndarray
    contour: np.ndarray
    frame_rate_hz: float = FRAME_RATE_HZ

    @property
    def n_frames(self) -> int:
        return int(self.note.shape[0])

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(self.n_frames) / self.frame_rate_hz + FRAME_OFFSET_S


class NoteEngine(Protocol):
    """Audio (mono, `MODEL_SAMPLE_RATE`) to frame-wise note posteriors."""

    def activations(self, audio: np.ndarray) -> Activations: ...


def basic_pitch_model_path() -> Path:
    """Where the installed basic-pitch package keeps `nmp.onnx` (found without importing it:
    basic-pitch's `__init__` logs warnings about TensorFlow and CoreML)."""
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailableError(
            "transcribing a full recording needs the basic-pitch note model: "
            "run `pip install --no-deps basic-pitch==0.4.0` (or `make setup`)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_MODEL_RELATIVE_PATH)
    if not path.is_file():
        raise EngineUnavailableError(f"the basic-pitch note model is missing ({path}): "
                                     "reinstall it with `pip install --no-deps basic-pitch==0.4.0`")
    return path


class BasicPitchOnnx:
    """basic-pitch's ICASSP 2022 model on onnxruntime; `threads` 0 lets onnxruntime choose (one
    per physical core, as basic-pitch's own session does)."""

    def __init__(self, model_path: Path | None = None, *, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EngineUnavailableError(
                "transcribing a full recording needs onnxruntime: run `pip install onnxruntime`"
            ) from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        path = model_path or basic_pitch_model_path()
        self._session = ort.InferenceSession(str(path), sess_options=opts,
                                             providers=["CPUExecutionProvider"])

    def activations(self, audio: np.ndarray) -> Activations:
        x = np.asarray(audio, dtype=np.float32)
        n_out = int(np.ceil(x.size / HOP_SAMPLES))
        hop = KEPT_FRAMES * HOP_SAMPLES
        # Frame k of window w is centred on sample w*hop + (k - EDGE_FRAMES)*HOP of the input:
        # pad the front so that the first kept frame of window 0 is sample 0.
        front = EDGE_FRAMES * HOP_SAMPLES
        n_windows = max(1, int(np.ceil(n_out / KEPT_FRAMES)))
        total = (n_windows - 1) * hop + WINDOW_SAMPLES
        padded = np.zeros(front + max(total, x.size) + WINDOW_SAMPLES, dtype=np.float32)
        padded[front:front + x.size] = x
        starts = np.arange(n_windows) * hop
        outputs: list[list[np.ndarray]] = [[], [], []]
        for b in range(0, n_windows, BATCH_WINDOWS):
            idx = starts[b:b + BATCH_WINDOWS]
            batch = np.stack([padded[s:s + WINDOW_SAMPLES] for s in idx])[:, :, None]
            result = self._session.run(list(_OUTPUTS), {_INPUT_NAME: batch})
            for store, out in zip(outputs, result, strict=True):
                store.append(out[:, EDGE_FRAMES:EDGE_FRAMES + KEPT_FRAMES, :])
        note, onset, contour = (np.concatenate(o).reshape(-1, o[0].shape[-1])[:n_out]
                                for o in outputs)
        return Activations(note=note, onset=onset, contour=contour)


ENGINES: dict[str, type[BasicPitchOnnx]] = {"basic-pitch": BasicPitchOnnx}
DEFAULT_ENGINE = "basic-pitch"


def make_engine(name: str = DEFAULT_ENGINE) -> NoteEngine:
    if name not in ENGINES:
        raise EngineUnavailableError(f"unknown note engine '{name}' (have: {', '.join(ENGINES)})")
    return ENGINES[name]()


def to_model_rate(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Mono float32 audio resampled to the model's 22,050 Hz (soxr, high quality)."""
    x = np.asarray(audio, dtype=np.float32)
    if sample_rate == MODEL_SAMPLE_RATE:
        return x
    import soxr

    return soxr.resample(x, sample_rate, MODEL_SAMPLE_RATE, quality="HQ").astype(np.float32)

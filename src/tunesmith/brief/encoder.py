"""The MiniLM sentence encoder (all-MiniLM-L6-v2, int8 ONNX) at run time: onnxruntime and
`tokenizers` only. The model is exported once by `training/export_minilm.py`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

MODEL_FILE = "minilm-l6-int8.onnx"
TOKENIZER_FILE = "minilm-tokenizer.json"
EMBEDDING_DIM = 384
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained with; longer text is cut
BATCH = 32


class EncoderError(TunesmithError):
    """The shipped sentence encoder is missing or damaged (reinstall tunesmith)."""


class SentenceEncoder:
    """Text -> unit-length 384-d vectors (cosine similarity is a dot product). Word-level
    results are cached: prompts share most of their words."""

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        models = resources.files("tunesmith") / "models"
        try:
            with resources.as_file(models / MODEL_FILE) as default_model, \
                    resources.as_file(models / TOKENIZER_FILE) as default_tok:
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # short texts: one thread is as fast, and polite
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                self._session = ort.InferenceSession(
                    str(model_path or default_model), sess_options=options,
                    providers=["CPUExecutionProvider"])
                self._tokenizer: Any = Tokenizer.from_file(str(tokenizer_path or default_tok))
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise EncoderError(f"cannot load the text encoder ({MODEL_FILE}): {exc}") from exc
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._cache: dict[str, np.ndarray] = {}

    def wordpieces(self, text: str) -> list[str]:
        """The tokenizer's pieces for `text`, without [CLS]/[SEP]."""
        return [t for t in self._tokenizer.encode(text).tokens if t not in ("[CLS]", "[SEP]")]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), 384] float32, each row of unit length."""
        out = np.zeros((len(texts), EMBEDDING_DIM), np.float32)
        for lo in range(0, len(texts), BATCH):
            chunk = list(texts[lo:lo + BATCH])
            enc = self._tokenizer.encode_batch(chunk)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            vec = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            norms = np.linalg.norm(vec, axis=1, keepdims=True)
            out[lo:lo + len(chunk)] = vec / np.maximum(norms, 1e-9)
        return out

    def encode_cached(self, texts: Sequence[str]) -> np.ndarray:
        """Like `encode`, remembering short texts (single words, anchor phrases)."""
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            for t, v in zip(missing, self.encode(missing), strict=True):
                self._cache[t] = v
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        return np.stack([self._cache[t] for t in texts])

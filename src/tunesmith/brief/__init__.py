"""brief: a text prompt becomes a SongBrief (style, mood, tempo, meter, key, instruments,
length, structure), and a SongBrief becomes a lead sheet and an arrangement plan.

    brief = understand("rainy night, missing someone")
    brief.style.name, brief.mood.valence, brief.tempo_bpm, brief.key

Language understanding is the MiniLM sentence encoder (int8 ONNX, `models/minilm-l6-int8.onnx`,
exported by `training/export_minilm.py`) placing the prompt among anchor descriptions, with
explicit rules for what a prompt says outright (numbers, keys, negations, lengths).
"""

from __future__ import annotations

from tunesmith.brief.model import BriefError, Mood, SongBrief, StyleChoice, tempo_class
from tunesmith.brief.reader import BriefReader, understand

__all__ = ["BriefError", "BriefReader", "Mood", "SongBrief", "StyleChoice", "tempo_class",
           "understand"]

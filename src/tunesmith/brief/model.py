"""The SongBrief: what a text prompt asks for, as data that round-trips to JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from tunesmith.errors import TunesmithError
from tunesmith.theory import Key

# Tempo classes (bench and the brief's summary): below SLOW_BELOW_BPM is slow, from
# FAST_FROM_BPM on is fast.
SLOW_BELOW_BPM = 90.0
FAST_FROM_BPM = 124.0
TIME_SIGNATURES = {"2/4": (2, False), "3/4": (3, False), "4/4": (4, False), "6/4": (6, False),
                   "6/8": (3, True), "12/8": (6, True)}


class BriefError(TunesmithError):
    """The prompt cannot be understood (empty, not a description of music, another language)."""


def tempo_class(tempo_bpm: float) -> str:
    if tempo_bpm < SLOW_BELOW_BPM:
        return "slow"
    return "fast" if tempo_bpm >= FAST_FROM_BPM else "medium"


@dataclass(frozen=True, slots=True)
class StyleChoice:
    """One of our styles, how sure the brief is (0-1), and the next-best style."""

    name: str
    confidence: float
    runner_up: str
    runner_up_confidence: float


@dataclass(frozen=True, slots=True)
class Mood:
    """Valence (-1 negative .. +1 positive) and arousal (-1 calm .. +1 excited), and the mood
    words that best describe the point."""

    valence: float
    arousal: float
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SongBrief:
    """Everything a prompt asks of a song. Sources say where a value came from: "prompt" (said
    outright), "words" (tempo or mood words), "mood" or "style" (chosen to fit)."""

    prompt: str
    style: StyleChoice
    mood: Mood
    tempo_bpm: float
    tempo_source: str
    time_signature: str
    key: str  # e.g. "D minor"
    key_source: str
    harmony: str  # compose's harmony flavour: simple, rich or jazzy
    density: float  # 0 sparse .. 1 full
    instruments_wanted: tuple[str, ...] = ()
    instruments_unwanted: tuple[str, ...] = ()
    solo: str | None = None  # "piano" for "solo piano": one instrument plays everything
    lead: str | None = None  # "piano" for "a piano ballad": that instrument carries the tune
    length_s: float | None = None
    structure: tuple[str, ...] = ()  # "long intro", "big final chorus", "quiet ending", ...
    unused_words: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)  # what the brief wants the user to know

    @property
    def song_key(self) -> Key:
        return Key.parse(self.key)

    @property
    def beats_per_bar(self) -> int:
        return TIME_SIGNATURES[self.time_signature][0]

    @property
    def compound(self) -> bool:
        return TIME_SIGNATURES[self.time_signature][1]

    @property
    def tempo_class(self) -> str:
        return tempo_class(self.tempo_bpm)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tempo_class"] = self.tempo_class
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SongBrief:
        try:
            return cls(
                prompt=str(d["prompt"]), style=StyleChoice(**d["style"]),
                mood=Mood(float(d["mood"]["valence"]), float(d["mood"]["arousal"]),
                          tuple(d["mood"]["words"])),
                tempo_bpm=float(d["tempo_bpm"]), tempo_source=str(d["tempo_source"]),
                time_signature=str(d["time_signature"]), key=str(d["key"]),
                key_source=str(d["key_source"]), harmony=str(d["harmony"]),
                density=float(d["density"]),
                instruments_wanted=tuple(d.get("instruments_wanted", ())),
                instruments_unwanted=tuple(d.get("instruments_unwanted", ())),
                solo=d.get("solo"), lead=d.get("lead"), length_s=d.get("length_s"),
                structure=tuple(d.get("structure", ())),
                unused_words=tuple(d.get("unused_words", ())), notes=tuple(d.get("notes", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise BriefError(f"not a song brief: {exc}") from exc

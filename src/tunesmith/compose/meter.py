"""Meter: where the strong and weak positions of a bar are, in simple and compound time.

Beats are quarter notes everywhere in tunesmith. A simple meter has `beats_per_bar` quarter-note
beats (4/4, 3/4, 2/4); a compound meter groups eighth notes in threes: 6/8 is 3 quarter-note
beats to the bar felt as two dotted-quarter pulses, 12/8 is 6 beats felt as four pulses.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.errors import TunesmithError

STEPS_PER_BEAT = 4  # sixteenth-note grid
METRIC_LEVELS = 5  # 0 downbeat, 1 mid-bar pulse, 2 beat/pulse, 3 first subdivision, 4 finer


class MeterError(TunesmithError):
    """A time signature tunesmith cannot write a song in."""


@dataclass(frozen=True, slots=True)
class Meter:
    beats_per_bar: int = 4
    compound: bool = False

    def __post_init__(self) -> None:
        if not 2 <= self.beats_per_bar <= 12:
            raise MeterError(f"a bar must have 2 to 12 beats, not {self.beats_per_bar}")
        if self.compound and (self.beats_per_bar * 2) % 3:
            raise MeterError(f"{self.beats_per_bar * 2}/8 is not a compound meter "
                             "(use 6/8, 9/8 is not supported, or 12/8)")

    @classmethod
    def parse(cls, text: str) -> Meter:
        """'4/4', '3/4', '6/8', '12/8', '2/4'."""
        try:
            num_txt, den_txt = text.strip().split("/")
            num, den = int(num_txt), int(den_txt)
        except ValueError as exc:
            raise MeterError(f"cannot read time signature '{text}': use e.g. 4/4, 3/4 or 6/8") from exc
        if den == 4:
            return cls(num, False)
        if den == 8 and num % 3 == 0 and num % 2 == 0:
            return cls(num // 2, True)
        raise MeterError(f"time signature {text} is not supported: use 2/4, 3/4, 4/4, 6/8 or 12/8")

    @property
    def time_signature(self) -> str:
        return f"{2 * self.beats_per_bar}/8" if self.compound else f"{self.beats_per_bar}/4"

    @property
    def steps_per_bar(self) -> int:
        return self.beats_per_bar * STEPS_PER_BEAT

    @property
    def pulse_beats(self) -> float:
        """Length of the felt beat: a dotted quarter in compound time, else a quarter."""
        return 1.5 if self.compound else 1.0

    def step_in_bar(self, beat: float) -> int:
        return int(round(beat * STEPS_PER_BEAT)) % self.steps_per_bar

    def level(self, beat: float) -> int:
        """Metric level of a position: 0 downbeat ... 4 sixteenth-note off-beat."""
        s = self.step_in_bar(beat)
        n = self.steps_per_bar
        if s == 0:
            return 0
        if self.compound:
            pulse = 6  # a dotted quarter
            if n % (2 * pulse) == 0 and s == n // 2:
                return 1
            if s % pulse == 0:
                return 2
            return 3 if s % 2 == 0 else 4
        if self.beats_per_bar % 2 == 0 and self.beats_per_bar >= 4 and s == n // 2:
            return 1
        if s % STEPS_PER_BEAT == 0:
            return 2
        return 3 if s % 2 == 0 else 4

    def is_strong(self, beat: float) -> bool:
        """Downbeats and mid-bar pulses (beats 1 and 3 of 4/4, both pulses of 6/8; in 3/4 the
        downbeat only)."""
        return self.level(beat) <= 1 or (self.compound and self.level(beat) == 2)

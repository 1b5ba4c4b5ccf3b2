"""Song forms as data, fitted to a target length."""

from __future__ import annotations

from dataclasses import dataclass

# Energy of each section kind: drives arrangement density and dynamics.
SECTION_ENERGY = {
    "intro": 0.3, "verse": 0.45, "prechorus": 0.6, "chorus": 0.85, "bridge": 0.55,
    "solo": 0.7, "outro": 0.35,
}


@dataclass(frozen=True, slots=True)
class FormSection:
    kind: str
    bars: int
    label: str
    energy: float


def _label(kinds: list[tuple[str, int]]) -> list[FormSection]:
    counts: dict[str, int] = {}
    totals = {k: sum(1 for kk, _ in kinds if kk == k) for k, _ in kinds}
    out = []
    for kind, bars in kinds:
        counts[kind] = counts.get(kind, 0) + 1
        name = {"prechorus": "Pre-chorus"}.get(kind, kind.capitalize())
        label = f"{name} {counts[kind]}" if totals[kind] > 1 else name
        energy = SECTION_ENERGY[kind]
        if kind == "chorus" and counts[kind] == totals[kind] and totals[kind] > 1:
            energy = 1.0  # the last chorus is the biggest
        if kind == "verse" and counts[kind] > 1:
            energy += 0.05
        out.append(FormSection(kind, bars, label, round(min(energy, 1.0), 2)))
    return out


def plan_form(*, chorus_bars: int, seconds_per_bar: float, target_s: float,
              hook_bars: int | None = None) -> list[FormSection]:
    """Pick a form whose length is closest to `target_s`. The core is always intro, verse,
    chorus, verse, chorus, outro; pre-choruses, a bridge with a last chorus, and a third verse
    are added while they bring the song closer to the target. Sections shrink for short targets."""
    verse = max(chorus_bars, 8)
    candidates: list[list[tuple[str, int]]] = []
    shrunk: set[int] = set()
    for intro, v, c, outro in ((4, verse, chorus_bars, 4), (2, max(4, verse // 2), chorus_bars, 2)):
        if intro == 2:
            shrunk.update(range(len(candidates), len(candidates) + 5))
        core = [("intro", intro), ("verse", v), ("chorus", c), ("verse", v), ("chorus", c),
                ("outro", outro)]
        candidates.append(core)
        with_pre = [("intro", intro), ("verse", v), ("prechorus", 4), ("chorus", c), ("verse", v),
                    ("prechorus", 4), ("chorus", c), ("outro", outro)]
        candidates.append(with_pre)
        bridge = [("intro", intro), ("verse", v), ("chorus", c), ("verse", v), ("chorus", c),
                  ("bridge", 8), ("chorus", c), ("outro", outro)]
        candidates.append(bridge)
        full = [("intro", intro), ("verse", v), ("prechorus", 4), ("chorus", c), ("verse", v),
                ("prechorus", 4), ("chorus", c), ("bridge", 8), ("chorus", c), ("outro", outro)]
        candidates.append(full)
        long = [("intro", intro), ("verse", v), ("prechorus", 4), ("chorus", c), ("verse", v),
                ("prechorus", 4), ("chorus", c), ("bridge", 8), ("chorus", c), ("verse", v),
                ("chorus", c), ("chorus", c), ("outro", outro)]
        candidates.append(long)
    # Very short targets: the smallest song that still has every core section, with a chorus
    # only as long as the hook itself.
    short_chorus = max(4, hook_bars or chorus_bars)
    tiny = [("intro", 2), ("verse", 4), ("chorus", short_chorus), ("verse", 4),
            ("chorus", short_chorus), ("outro", 2)]
    shrunk.add(len(candidates))
    candidates.append(tiny)
    # Very long targets: repeat verse/chorus pairs before the outro.
    base = candidates[3]
    for extra in range(1, 12):
        candidates.append(base[:-1] + [("verse", verse), ("chorus", chorus_bars)] * extra + [base[-1]])

    def length(form: list[tuple[str, int]]) -> float:
        return sum(b for _, b in form) * seconds_per_bar

    def cost(i: int) -> tuple[float, int]:
        # Full-size sections (4-bar intro, 8-bar verses) are preferred: short ones only win
        # when the target is clearly too short for them.
        miss = abs(length(candidates[i]) - target_s)
        return (miss + (0.12 * target_s if i in shrunk else 0.0), -len(candidates[i]))

    best = candidates[min(range(len(candidates)), key=cost)]
    return _label(best)

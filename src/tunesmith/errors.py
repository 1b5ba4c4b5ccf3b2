"""Errors a musician can read. Every user-facing failure is a TunesmithError subclass."""

from __future__ import annotations


class TunesmithError(Exception):
    """Base class: the message is shown to the user as one line."""


class InputAudioError(TunesmithError):
    """The input audio is missing, unreadable, too long, silent or holds no melody."""


class NoMelodyError(InputAudioError):
    """Audio was readable but no sung or hummed notes were found."""


class PolyphonicInputError(InputAudioError):
    """Audio for the one-voice (hum/sing) path holds several instruments or voices at once."""


class StyleError(TunesmithError):
    """Unknown style or a malformed style file."""


class OutputError(TunesmithError):
    """The output folder cannot be written."""


class ScoreError(TunesmithError):
    """A score or MIDI file is malformed."""

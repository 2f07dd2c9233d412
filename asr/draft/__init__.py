"""Ticket drafts built from the caller's side of a transcript."""

from asr.draft.builder import DraftBuilder
from asr.draft.model import LABELS, DirectoryEntry, Draft, EarlierCall, Utterance
from asr.draft.parse import TranscriptError, parse_transcript
from asr.draft.rules import Rules, RulesError, load_rules

__all__ = [
    "LABELS",
    "DirectoryEntry",
    "Draft",
    "DraftBuilder",
    "EarlierCall",
    "Rules",
    "RulesError",
    "TranscriptError",
    "Utterance",
    "load_rules",
    "parse_transcript",
]

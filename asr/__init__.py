"""Transcription of call recordings with Vosk, and ticket drafts built from transcripts."""

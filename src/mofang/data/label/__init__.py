"""Labeling tools: map raw label spellings to canonical classes, fill missing labels by keyword rules."""

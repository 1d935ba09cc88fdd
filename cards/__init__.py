"""Adaptive Card 1.5 builders: pure functions from stored rows to card dicts (no I/O, no botbuilder)."""

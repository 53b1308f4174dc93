"""Batch transfer tasks."""

"""Dock panels: labels, model/device."""

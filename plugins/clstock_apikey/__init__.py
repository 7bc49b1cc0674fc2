"""Bundled ClStock plugin (being built)."""

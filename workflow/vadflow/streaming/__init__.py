"""Scoring while a video plays: ``vadflow watch`` (watch.py), its frame sources, online scorers and the realtime cost measurement."""

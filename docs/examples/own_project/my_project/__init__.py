"""Modules of the example project; configs import them with ``custom_imports``."""

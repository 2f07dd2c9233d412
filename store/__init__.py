"""Shared storage vocabulary: the SQLAlchemy declarative base and every Redis key name.

Domain packages import from here (never from ``hotline``), so the dependency direction
``hotline -> domain -> store`` holds. Connections are made by ``hotline``.
"""

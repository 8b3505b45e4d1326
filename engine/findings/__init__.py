"""Findings: what is wrong on this box right now, each with all of its evidence."""

from alsate.engine.findings.engine import DEFAULT_ACTIVE_WINDOW, Detector, FindingsEngine, default_detectors
from alsate.engine.findings.model import CATEGORIES, Finding

__all__ = ["CATEGORIES", "DEFAULT_ACTIVE_WINDOW", "Detector", "Finding", "FindingsEngine", "default_detectors"]

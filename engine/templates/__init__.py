"""Template mining: masking, Drain3 per host, access-log templates, the templates view."""

from alsate.engine.templates.index import TemplateIndex, TemplateRef, TemplateStat
from alsate.engine.templates.masking import mask
from alsate.engine.templates.miner import MinerConfig, TemplateMiner

__all__ = ["MinerConfig", "TemplateIndex", "TemplateMiner", "TemplateRef", "TemplateStat", "mask"]

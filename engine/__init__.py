"""alsate's core: sources -> records -> store -> findings, and the LLM engine.

Nothing here imports Textual; everything is usable from a script and through
the ``alsate`` command.
"""

__version__ = "0.1.0"

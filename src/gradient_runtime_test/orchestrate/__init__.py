"""The orchestrator wing: `loop` (the Orchestrator), `options` (pacing), `cells` (a cell's
records), `ending` (stop, metrics, delete) and `jobs` (a planned cell becomes a Job)."""

from .cells import Job, Leftover, Outcome
from .loop import Orchestrator
from .options import Options, options_for

__all__ = ["Job", "Leftover", "Options", "Orchestrator", "Outcome", "options_for"]

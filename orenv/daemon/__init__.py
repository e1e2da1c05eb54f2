"""The per-user daemon: cached activations, live reload, zero-fork prompts.

``server`` answers export requests over a Unix socket (``protocol``), keeping
policies, trust and keys in memory; ``watcher`` feeds it file events from
watchdog; ``client`` is the tiny stdlib-only client bash and fish run on cd.
"""

from __future__ import annotations

__all__: list[str] = []

"""The archiver worker: ended sessions out of Redis into redacted transcripts in SQL.

``chat archiver`` runs ``main``; ``chat purge`` runs ``purge_main``. The work
itself is ``Archiver`` in ``chat.archiver.worker``.
"""

from chat.archiver.worker import Archiver, main, purge_main

__all__ = ["Archiver", "main", "purge_main"]

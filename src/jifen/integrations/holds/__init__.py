"""Points as cash in the enterprise's own checkout (docs/integration.md, "Points as cash").

services.py holds the writes (create, capture, release, expire), selectors.py the reads
(the quote, one hold). Points move only through jifen.ledger.services.
"""

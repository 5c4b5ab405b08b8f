"""Health checkers: one module per keepalived checker kind, and the schedule that runs them.

``base`` holds what every checker shares (the target of a probe, its outcome);
each checker module exports ``async def probe(check, target) -> Outcome`` that
makes one attempt, bounded by the checker's connect timeout.
"""

"""Exponential backoff with full jitter, for reconnecting to a broker and retrying lake commits."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays that double from ``initial_s`` up to ``max_s``, each drawn at random below its cap.

    Full jitter (a delay uniform in ``[cap/2, cap]``) keeps a fleet of ingesters that lost the same
    broker from reconnecting in lockstep.

    Parameters
    ----------
    initial_s : float
        Cap of the first delay, in seconds.
    max_s : float
        Largest cap, in seconds.
    rng : random.Random, optional
        Source of jitter (seed it for reproducible delays).

    Examples
    --------
    >>> b = Backoff(0.5, 4.0, rng=random.Random(1))
    >>> [round(b.next(), 2) for _ in range(5)]
    [0.28, 0.92, 1.76, 2.51, 2.99]
    >>> b.reset(); b.attempts
    0
    """

    def __init__(
        self, initial_s: float = 0.5, max_s: float = 30.0, rng: random.Random | None = None
    ):
        if not 0 < initial_s <= max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {initial_s} and {max_s}")
        self.initial_s = initial_s
        self.max_s = max_s
        self.rng = rng or random.Random()
        self.attempts = 0

    def next(self) -> float:
        """The next delay in seconds."""
        cap = min(self.max_s, self.initial_s * 2**self.attempts)
        self.attempts += 1
        return self.rng.uniform(cap / 2, cap)

    def reset(self) -> None:
        """Start again from ``initial_s`` (after a success)."""
        self.attempts = 0

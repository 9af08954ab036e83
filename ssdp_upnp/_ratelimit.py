"""
Token buckets: one (L{TokenBucket}), or keyed by source with a bounded number
of keys (L{RateLimiter}).

Pure code: the caller passes the time. Used to keep a node from becoming an
SSDP amplifier (replies per source) and to keep logging of malformed input
from flooding the log.
"""

from __future__ import annotations

from collections import OrderedDict


class TokenBucket:
    """
    One token bucket: it may spend C{burst} tokens at once and regains
    C{rate} tokens a second (L{RateLimiter}'s rule, for a single key).
    """

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = float("-inf")  # (full before its first use)

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Spend C{cost} tokens if the bucket has them; say whether it had."""
        tokens = self.tokens
        elapsed = now - self.stamp
        if elapsed > 0:  # (a clock that went back refills nothing)
            tokens += elapsed * self.rate
            if tokens > self.burst:
                tokens = self.burst
        self.stamp = now
        if tokens >= cost:
            self.tokens = tokens - cost
            return True
        self.tokens = tokens
        return False


class RateLimiter:
    """
    Per-key token buckets: each key may spend C{burst} tokens at once and
    regains C{rate} tokens a second. At most C{max_keys} keys are tracked; the
    least recently used is forgotten first, so memory stays bounded however
    many sources (spoofed or not) send.
    """

    def __init__(self, rate: float, burst: float, max_keys: int = 1024) -> None:
        if rate <= 0 or burst <= 0 or max_keys < 1:
            raise ValueError("rate, burst and max_keys must be positive")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def _bucket(self, key: str) -> TokenBucket:
        """C{key}'s bucket, now the most recently used (a new one if C{key} has none)."""
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = TokenBucket(self.rate, self.burst)
            while len(buckets) > self.max_keys:
                buckets.popitem(last=False)
        else:
            buckets.move_to_end(key)
        return bucket

    def allow(self, key: str, now: float, cost: float = 1.0) -> bool:
        """Spend C{cost} tokens of C{key}'s bucket if it has them; say whether it had."""
        return self._bucket(key).allow(now, cost)

    def available(self, key: str, now: float) -> int:
        """How many whole tokens C{key} could spend now."""
        bucket = self._bucket(key)
        bucket.allow(now, 0.0)  # (refilled to now)
        return int(bucket.tokens)

    def __len__(self) -> int:
        return len(self._buckets)

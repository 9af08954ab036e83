"""
Token buckets keyed by source, with a bounded number of keys.

Pure code: the caller passes the time. Used to keep a node from becoming an
SSDP amplifier (replies per source) and to keep logging of malformed input
from flooding the log.
"""

from __future__ import annotations

from collections import OrderedDict


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


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
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = now - bucket.stamp
            if elapsed > 0:  # (a clock that went back refills nothing)
                bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.stamp = now
        return bucket

    def allow(self, key: str, now: float, cost: float = 1.0) -> bool:
        """Spend C{cost} tokens of C{key}'s bucket if it has them; say whether it had."""
        bucket = self._bucket(key, now)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return True
        return False

    def available(self, key: str, now: float) -> int:
        """How many whole tokens C{key} could spend now."""
        return int(self._bucket(key, now).tokens)

    def __len__(self) -> int:
        return len(self._buckets)

"""Multi-op patterns: chains of TFLite ops that one standard Keras layer computes (LayerNorm, GELU, ...).

The rules are data (:mod:`.rules`), checked by :mod:`.params`, built by :mod:`.build`, searched
for by :mod:`.match`; :func:`find` returns a file's matches. See :mod:`.base` for the model.

Example:
    >>> from tflite2keras.ops import patterns
    >>> "rms_norm" in {rule.name for rule in patterns.RULES}
    True
"""

from .base import ANY, Found, PatternMatch, Rule, Step
from .find import find, held, search
from .rules import RULES

__all__ = ["ANY", "RULES", "Found", "PatternMatch", "Rule", "Step", "find", "held", "search"]

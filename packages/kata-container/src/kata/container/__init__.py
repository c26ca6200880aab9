"""Cache-aside containers: a value, or many values by item, from the cache or pulled from the source.

:class:`Simple` caches one value under one key; :class:`Attribute` caches one value per item
and looks many items up with one cache read, one pull of the misses and one cache write. Both
let one thread per process pull a missing key while the others wait for it (optionally one
process in all, through a shared cache's lock), and both keep answering when the cache is down.
"""

from kata.container.attribute import Attribute, Model
from kata.container.pulls import Pulls, pulls
from kata.container.simple import Simple

__all__ = ["Attribute", "Model", "Pulls", "Simple", "pulls"]

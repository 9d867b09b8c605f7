"""python-cqrs 4.x's `cqrs.dispatcher.saga`, which has no counterpart here.

Importing it raises an ImportError that says what to use instead.
"""

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

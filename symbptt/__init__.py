"""symbptt: exact symbolic and numeric backpropagation through time for small RNNs.

    >>> from symbptt import RNN, derive
    >>> d = derive(RNN(T=3, activation="tanh"), form="explicit", wrt="W")
"""

from .derive import FORMS, Derivation, Equation, derive
from .errors import SymbpttError
from .model import RNN

__version__ = "0.1.0"
__all__ = ["FORMS", "RNN", "Derivation", "Equation", "SymbpttError", "__version__", "derive"]

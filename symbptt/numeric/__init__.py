"""Numbers from the structure: the same paths as the symbolic forms, over float64 and mpmath factors;
log-space magnitudes and sweeps; the `grad` report; forms compiled to straight-line NumPy code."""

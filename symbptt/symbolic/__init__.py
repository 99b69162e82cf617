"""The symbolic forms of the BPTT gradient, built from the per-step factors (never by ``sympy.diff`` of the
unrolled loss).  Data flows one way:

    derivation.py   Equation, Derivation and the tools to build them (ordered sums, labels, swap)
    shown.py        the factors as matrices and as printed names, their definitions
    explicit.py, recursive.py, unrolled.py, general.py    one module per form
"""

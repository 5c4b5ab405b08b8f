"""Compiled hot paths of pykad (Cython). Each module has a pure-Python twin.

Sources live in the top-level ``_fastpath/`` folder of the checkout and are
installed as ``pykad._fastpath.*``; ``pykad._accel`` chooses between a module
here and its twin.
"""

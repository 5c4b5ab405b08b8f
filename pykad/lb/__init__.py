"""Load balancing (IPVS), sans-IO: the table as values, the plan that reconciles the
kernel's table with the desired one, and (with the checkers) what the desired
table is.  No I/O, no clock: the IPVS driver (``pykad.kernel.ipvs``) does both.
"""

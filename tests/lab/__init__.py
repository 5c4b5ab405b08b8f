"""Test labs: network namespaces, the IPVS VM, real peers (keepalived, FRR, BIRD).

Importable as ``lab`` (pytest puts ``tests/`` on ``sys.path``; bench scripts do too).
"""

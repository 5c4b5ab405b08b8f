"""Operator tools that are not part of the daemon: capture decoding, hashing."""

"""The imperative shell: the only code that does I/O for the sans-IO cores."""

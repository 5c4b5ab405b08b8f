"""keepalived.conf: the language, the keyword tables, the typed model and the checks."""

"""The checkers' drivers: one probe module per keepalived checker kind (TCP, HTTP/SSL,
SMTP, DNS, MISC, PING, UDP), the sockets they share (``connect``, ``dgram``), the
trio runner that drives a probe on keepalived's schedule, and ``genhash``."""

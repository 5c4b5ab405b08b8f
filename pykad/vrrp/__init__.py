"""VRRP v2 (RFC 3768) and v3 (RFC 5798, RFC 9568): wire format, state machine, router."""

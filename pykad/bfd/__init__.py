"""BFD (RFC 5880 asynchronous mode, RFC 5881 single hop, RFC 5883 multihop), sans-IO.

``packet`` (the control packet as a value), ``wire`` (its codec, compiled or pure),
``auth`` (RFC 5880 section 6.7 authentication), ``fsm`` (the session state table),
``session`` (one session's variables and timers) and ``table`` (discriminator and
peer lookup) never do I/O and never read a clock: the BFD driver does.
"""

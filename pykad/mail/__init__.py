"""Email alerts (keepalived's ``smtp_alert``), sans-IO: the mails and the SMTP exchange
that sends one. No I/O, no clock: the driver ``pykad.drivers.mailer`` does both.
"""

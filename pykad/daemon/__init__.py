"""The daemon: the services that run the sans-IO cores against the kernel, and their process."""

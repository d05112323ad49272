"""The running daemon: the composition root (service), the pipeline's process and the
inbound worker loop, delivery to the relay or the spool (outbound, relay), systemd
notification, the scheduled jobs, and the views the CLI asks of it (inspect, a case's
conversation). May import every package below it; only the CLI imports it.
checks runs the worker's sender checks side by side, a few at a time per slow DNS zone."""

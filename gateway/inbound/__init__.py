"""The doors mail comes in by: the SMTP listener (smtp) and IMAP polling (imap). Each stores
raw mail and its envelope, nothing more. Imports db, config, mail and alerts (a bulletin's
priority); imported only by the runtime and the CLI's `imap check`."""

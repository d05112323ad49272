"""A force's data-protection duties: retention and the daily purge (retention), subject access
exports (access) and erasure (erasure). The audit trail's records stay in gateway.db.
Imports db, mail, render, config and the kernel; imported by the runtime and the CLI."""

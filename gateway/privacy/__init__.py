"""A force's data-protection duties: retention and the daily purge (retention), subject access
exports (access), erasure (erasure) and the audit trail's anchor kept outside the database
(anchor). The audit trail's records stay in gateway.db.
Imports db, pipeline (to queue mail), mail, render, config and the kernel; imported by the
runtime and the CLI."""

"""Who is speaking: DKIM, SPF and DMARC checked by the gateway itself, or a trusted receiving
server's Authentication-Results, or a trusted internal network. Everything here reads the
message and DNS; nothing writes to the database. Imports config and mail; imported by the
pipeline, the runtime and the CLI.
zones tells which DNS zones a check asks, and which of them lately answered quickly."""

"""Pure message code, no I/O: parse, classify, trim, bounces, urgency, scrub (with reading:
text as a person reads it), compose (the only builder of outgoing mail) and addresses (the
address plan). Imports nothing of the gateway; every layer above it may import it."""

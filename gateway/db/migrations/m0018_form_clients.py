"""The online form counts each client's submissions in the last hour ([http]
form_per_client_per_hour): index stored messages by door, client and arrival, so the count
reads only that client's recent rows."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql("CREATE INDEX IF NOT EXISTS inbound_source_peer_received ON inbound (source, peer, received_at)")

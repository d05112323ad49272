"""Numbered schema migrations, applied in order by db.migrate().

Each module m<NNNN>_<name>.py has `apply(db)`. A migration never changes once released;
a later change to a table is a new migration (peewee's playhouse.migrate adds columns).
"""

from __future__ import annotations

from gateway.db.migrations import (m0001_initial, m0002_imap_state, m0003_bulletins, m0004_urgent,
                                m0005_outbox_recipient_index, m0006_case_resident_index, m0007_trust,
                                m0008_bounce_scores, m0009_daemons, m0010_cluster, m0011_promise, m0012_audit,
                                m0013_acted_on, m0014_reply_limits, m0015_keyed_audit)
from gateway.db.migrations import m0017_bulletin_subject_cy, m0018_form_clients

MIGRATIONS = (
    (1, "initial", m0001_initial.apply),
    (2, "imap_state", m0002_imap_state.apply),
    (3, "bulletins", m0003_bulletins.apply),
    (4, "urgent", m0004_urgent.apply),
    (5, "outbox_recipient_index", m0005_outbox_recipient_index.apply),
    (6, "case_resident_index", m0006_case_resident_index.apply),
    (7, "trust", m0007_trust.apply),
    (8, "bounce_scores", m0008_bounce_scores.apply),
    (9, "daemons", m0009_daemons.apply),
    (10, "cluster", m0010_cluster.apply),
    (11, "promise", m0011_promise.apply),
    (12, "audit", m0012_audit.apply),
    (13, "acted_on", m0013_acted_on.apply),
    (14, "reply_limits", m0014_reply_limits.apply),
    (15, "keyed_audit", m0015_keyed_audit.apply),
    (17, "bulletin_subject_cy", m0017_bulletin_subject_cy.apply),
    (18, "form_clients", m0018_form_clients.apply),
)

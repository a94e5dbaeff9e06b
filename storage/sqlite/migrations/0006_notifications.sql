-- Notifications: the consent ledger's purposes, notifications and the
-- tenants' notification policies. Times are Unix microseconds; 0 means
-- "not set". Parallel to the PostgreSQL schema.

-- A consent change about one purpose of notifications ("survey"); '' is
-- about every message from the account, as every change before this was.
ALTER TABLE consent_changes ADD COLUMN purpose TEXT NOT NULL DEFAULT '';

-- A notification: a message to a contact by purpose and data, whose
-- channel and time the notification service picks. data is a JSON object
-- of strings, channels and skipped JSON arrays. contact_id is the
-- tenant's, as the caller found it; there is no foreign key, as on cases.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    contact_id      INTEGER NOT NULL,
    purpose         TEXT    NOT NULL,
    data            TEXT    NOT NULL DEFAULT '{}',
    idempotency_key TEXT,
    channels        TEXT    NOT NULL DEFAULT '[]',
    send_after      INTEGER NOT NULL DEFAULT 0,
    fingerprint     TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    due             INTEGER NOT NULL,
    time_zone       TEXT    NOT NULL DEFAULT '',
    channel         TEXT    NOT NULL DEFAULT '',
    account_id      INTEGER NOT NULL DEFAULT 0,
    conversation_id INTEGER NOT NULL DEFAULT 0,
    message_id      INTEGER NOT NULL DEFAULT 0,
    skipped         TEXT    NOT NULL DEFAULT '[]',
    note            TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- The caller's idempotency key: one notification per tenant and key.
CREATE UNIQUE INDEX notifications_idempotency ON notifications (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The tenant's notifications newest first, and a contact's.
CREATE INDEX notifications_tenant ON notifications (tenant_id, id);
CREATE INDEX notifications_contact ON notifications (tenant_id, contact_id, id);
-- Frequency caps: a contact's sent notifications of a purpose by time.
CREATE INDEX notifications_sent ON notifications (tenant_id, contact_id, purpose, sent_at) WHERE status = 'sent';

-- A tenant's notification policy, as a JSON document (notify.Policy).
CREATE TABLE notification_policies (
    tenant_id  INTEGER PRIMARY KEY REFERENCES tenants (id),
    policy     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

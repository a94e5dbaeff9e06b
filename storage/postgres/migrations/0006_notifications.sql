-- Conversa schema, version 6: notifications, the consent ledger's
-- purposes and the tenants' notification policies. Parallel to the SQLite
-- schema.

-- A consent change about one purpose of notifications ("survey"); '' is
-- about every message from the account, as every change before this was.
-- A constant default: adding it rewrites no rows.
ALTER TABLE consent_changes ADD COLUMN purpose text NOT NULL DEFAULT '';

-- A notification: a message to a contact by purpose and data, whose
-- channel and time the notification service picks. contact_id is the
-- tenant's, as the caller found it; there is no foreign key, as on cases.
CREATE TABLE notifications (
    id              bigserial   PRIMARY KEY,
    tenant_id       bigint      NOT NULL REFERENCES tenants (id),
    contact_id      bigint      NOT NULL,
    purpose         text        NOT NULL,
    data            jsonb       NOT NULL DEFAULT '{}',
    idempotency_key text,
    channels        jsonb       NOT NULL DEFAULT '[]',
    send_after      timestamptz,
    fingerprint     text        NOT NULL DEFAULT '',
    status          text        NOT NULL,
    due             timestamptz NOT NULL,
    time_zone       text        NOT NULL DEFAULT '',
    channel         text        NOT NULL DEFAULT '',
    account_id      bigint      NOT NULL DEFAULT 0,
    conversation_id bigint      NOT NULL DEFAULT 0,
    message_id      bigint      NOT NULL DEFAULT 0,
    skipped         jsonb       NOT NULL DEFAULT '[]',
    note            text        NOT NULL DEFAULT '',
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
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
    tenant_id  bigint      PRIMARY KEY REFERENCES tenants (id),
    policy     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL
);

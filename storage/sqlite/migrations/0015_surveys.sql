-- Generic surveys (notify/survey): a CSAT or NPS question sent to a
-- contact as a notification, and the contact's answer. Times are Unix
-- microseconds; 0 means "not set". Parallel to the PostgreSQL schema.
CREATE TABLE surveys (
    id                INTEGER PRIMARY KEY,
    tenant_id         INTEGER NOT NULL REFERENCES tenants (id),
    contact_id        INTEGER NOT NULL,
    kind              TEXT    NOT NULL,
    purpose           TEXT    NOT NULL,
    subject           TEXT    NOT NULL DEFAULT '',
    notification_id   INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    ttl_seconds       INTEGER NOT NULL,
    channel           TEXT    NOT NULL DEFAULT '',
    conversation_id   INTEGER NOT NULL DEFAULT 0,
    message_id        INTEGER NOT NULL DEFAULT 0,
    sent_at           INTEGER NOT NULL DEFAULT 0,
    expires_at        INTEGER NOT NULL DEFAULT 0,
    score             INTEGER NOT NULL DEFAULT 0,
    answered_at       INTEGER NOT NULL DEFAULT 0,
    answer_channel    TEXT    NOT NULL DEFAULT '',
    answer_message_id INTEGER NOT NULL DEFAULT 0,
    answer_text       TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    -- One survey per notification: a retry asks once.
    UNIQUE (tenant_id, notification_id)
);
-- A contact's surveys waiting for an answer, read on their inbound
-- messages that look like a score.
CREATE INDEX surveys_pending ON surveys (tenant_id, contact_id, status, sent_at);
-- The survey a message answered: a retried message is answered once.
CREATE INDEX surveys_answer ON surveys (tenant_id, answer_message_id) WHERE answer_message_id <> 0;
-- Reports: a kind's surveys sent in a period.
CREATE INDEX surveys_report ON surveys (tenant_id, kind, sent_at);

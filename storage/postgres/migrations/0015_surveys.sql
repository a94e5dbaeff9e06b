-- Conversa schema, version 15: generic surveys (notify/survey), a CSAT or
-- NPS question sent to a contact as a notification, and the contact's
-- answer. Parallel to the SQLite schema.
CREATE TABLE surveys (
    id                bigserial   PRIMARY KEY,
    tenant_id         bigint      NOT NULL REFERENCES tenants (id),
    contact_id        bigint      NOT NULL,
    kind              text        NOT NULL,
    purpose           text        NOT NULL,
    subject           text        NOT NULL DEFAULT '',
    notification_id   bigint      NOT NULL,
    status            text        NOT NULL,
    ttl_seconds       bigint      NOT NULL,
    channel           text        NOT NULL DEFAULT '',
    conversation_id   bigint      NOT NULL DEFAULT 0,
    message_id        bigint      NOT NULL DEFAULT 0,
    sent_at           timestamptz,
    expires_at        timestamptz,
    score             integer     NOT NULL DEFAULT 0,
    answered_at       timestamptz,
    answer_channel    text        NOT NULL DEFAULT '',
    answer_message_id bigint      NOT NULL DEFAULT 0,
    answer_text       text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
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

-- Conversa schema, version 8: the satisfaction surveys of cases, asked
-- after a case is resolved, answered by the customer's next message that
-- is a rating, and the reopening that a low score offers. Parallel to the
-- SQLite schema.
CREATE TABLE case_surveys (
    id                bigserial   PRIMARY KEY,
    tenant_id         bigint      NOT NULL REFERENCES tenants (id),
    case_id           bigint      NOT NULL REFERENCES cases (id),
    contact_id        bigint      NOT NULL,
    key               text        NOT NULL,
    resolved_at       timestamptz NOT NULL,
    asked_at          timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    answered_at       timestamptz,
    score             integer     NOT NULL DEFAULT 0,
    answer_message_id bigint      NOT NULL DEFAULT 0,
    reopen_until      timestamptz,
    reopened_at       timestamptz,
    reopen_message_id bigint      NOT NULL DEFAULT 0,
    -- One survey per notification key: a retry asks once.
    UNIQUE (tenant_id, key)
);
-- A contact's recent surveys, read on each of their inbound messages.
CREATE INDEX case_surveys_contact ON case_surveys (tenant_id, contact_id, asked_at);
CREATE INDEX case_surveys_case ON case_surveys (tenant_id, case_id);

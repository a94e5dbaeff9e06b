-- The satisfaction surveys of cases: asked after a case is resolved,
-- answered by the customer's next message that is a rating, and the
-- reopening that a low score offers. Times are Unix microseconds; 0 means
-- "not set". Parallel to the PostgreSQL schema.
CREATE TABLE case_surveys (
    id                INTEGER PRIMARY KEY,
    tenant_id         INTEGER NOT NULL REFERENCES tenants (id),
    case_id           INTEGER NOT NULL REFERENCES cases (id),
    contact_id        INTEGER NOT NULL,
    key               TEXT    NOT NULL,
    resolved_at       INTEGER NOT NULL,
    asked_at          INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    answered_at       INTEGER NOT NULL DEFAULT 0,
    score             INTEGER NOT NULL DEFAULT 0,
    answer_message_id INTEGER NOT NULL DEFAULT 0,
    reopen_until      INTEGER NOT NULL DEFAULT 0,
    reopened_at       INTEGER NOT NULL DEFAULT 0,
    reopen_message_id INTEGER NOT NULL DEFAULT 0,
    -- One survey per notification key: a retry asks once.
    UNIQUE (tenant_id, key)
);
-- A contact's recent surveys, read on each of their inbound messages.
CREATE INDEX case_surveys_contact ON case_surveys (tenant_id, contact_id, asked_at);
CREATE INDEX case_surveys_case ON case_surveys (tenant_id, case_id);

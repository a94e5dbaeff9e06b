-- The agent console's data: agents' passwords and sessions, private notes
-- on conversations and canned responses. Times are Unix microseconds; 0
-- means "not set". Parallel to the PostgreSQL schema.

-- An agent's argon2id password hash in PHC form, '' for none.
ALTER TABLE agents ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
-- Logging in looks an email up across tenants.
CREATE INDEX agents_login ON agents (email) WHERE email <> '';

-- A console session: only the SHA-256 of the browser's token is kept.
CREATE TABLE agent_sessions (
    token_hash TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    agent_id   INTEGER NOT NULL REFERENCES agents (id),
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX agent_sessions_agent ON agent_sessions (tenant_id, agent_id);
CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);

-- Private notes of agents on a conversation, never sent to the customer.
CREATE TABLE conversation_notes (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    agent_id        INTEGER NOT NULL REFERENCES agents (id),
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX conversation_notes_conversation ON conversation_notes (tenant_id, conversation_id, id);

-- Canned responses, known by a code unique per tenant.
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    code       TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, code)
);

-- Conversa schema, version 9: the agent console's data: agents' passwords
-- and sessions, private notes on conversations and canned responses.
-- Parallel to the SQLite schema.

-- An agent's argon2id password hash in PHC form, '' for none.
ALTER TABLE agents ADD COLUMN password_hash text NOT NULL DEFAULT '';
-- Logging in looks an email up across tenants.
CREATE INDEX agents_login ON agents (email) WHERE email <> '';

-- A console session: only the SHA-256 of the browser's token is kept.
CREATE TABLE agent_sessions (
    token_hash text        PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    agent_id   bigint      NOT NULL REFERENCES agents (id),
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX agent_sessions_agent ON agent_sessions (tenant_id, agent_id);
CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);

-- Private notes of agents on a conversation, never sent to the customer.
CREATE TABLE conversation_notes (
    id              bigserial   PRIMARY KEY,
    tenant_id       bigint      NOT NULL REFERENCES tenants (id),
    conversation_id bigint      NOT NULL REFERENCES conversations (id),
    agent_id        bigint      NOT NULL REFERENCES agents (id),
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX conversation_notes_conversation ON conversation_notes (tenant_id, conversation_id, id);

-- Canned responses, known by a code unique per tenant.
CREATE TABLE canned_responses (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    code       text        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, code)
);

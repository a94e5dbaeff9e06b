-- Agents, teams, queues, routing rules, and the conversations handed to
-- agents. Times are Unix microseconds; 0 means "not set". Parallel to the
-- PostgreSQL schema.

-- An agent. skills and teams are lists kept as ",a,b," (sorted, lower
-- case), so that "has skill x" is skills LIKE '%,x,%' on both stores.
-- load counts the entries offered to or assigned to the agent; every change
-- of it is an UPDATE of this row, which holds the row's lock, and the
-- routing_load check keeps it within capacity.
CREATE TABLE agents (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    name            TEXT    NOT NULL,
    email           TEXT    NOT NULL DEFAULT '',
    role            TEXT    NOT NULL,
    skills          TEXT    NOT NULL DEFAULT ',',
    teams           TEXT    NOT NULL DEFAULT ',',
    capacity        INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    status_since    INTEGER NOT NULL,
    load            INTEGER NOT NULL DEFAULT 0,
    idle_since      INTEGER NOT NULL,
    last_offered_at INTEGER NOT NULL DEFAULT 0,
    seen_at         INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CONSTRAINT routing_load CHECK (load >= 0)
);
CREATE UNIQUE INDEX agents_email ON agents (tenant_id, email) WHERE email <> '';
-- The candidates of an offer: the tenant's available agents, longest idle
-- first.
CREATE INDEX agents_available ON agents (tenant_id, idle_since) WHERE status = 'available';

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- A queue. hours is a JSON array of spans; accept_timeout in milliseconds.
CREATE TABLE queues (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id),
    name           TEXT    NOT NULL,
    strategy       TEXT    NOT NULL,
    skills         TEXT    NOT NULL DEFAULT ',',
    team_id        INTEGER NOT NULL DEFAULT 0,
    priority       INTEGER NOT NULL DEFAULT 0,
    accept_timeout INTEGER NOT NULL,
    hours          TEXT    NOT NULL DEFAULT '[]',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- A tenant's routing rules, in order.
CREATE TABLE routing_rules (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id),
    position       INTEGER NOT NULL,
    intent         TEXT    NOT NULL DEFAULT '',
    channel        TEXT    NOT NULL DEFAULT '',
    attribute      TEXT    NOT NULL DEFAULT '',
    value          TEXT    NOT NULL DEFAULT '',
    queue_id       INTEGER NOT NULL DEFAULT 0,
    priority_boost INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, position)
);

-- A conversation handed to agents: waiting, offered or assigned. One row
-- per conversation (the primary key), so one agent at most. version counts
-- changes and fences them: a change reads the row, locks the agents whose
-- load it changes (in id order), and updates the row only if its version
-- is the one it read. Like messages, no foreign keys: the caller checked
-- the conversation is the tenant's.
CREATE TABLE routing_entries (
    conversation_id INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    queue_id        INTEGER NOT NULL,
    priority        INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    agent_id        INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL,
    deadline        INTEGER NOT NULL DEFAULT 0,
    enqueued_at     INTEGER NOT NULL,
    assigned_at     INTEGER NOT NULL DEFAULT 0,
    reason          TEXT    NOT NULL DEFAULT '',
    intent          TEXT    NOT NULL DEFAULT '',
    sentiment       TEXT    NOT NULL DEFAULT '',
    note            TEXT    NOT NULL DEFAULT ''
);
-- What an agent who becomes free is offered: the waiting entries in
-- service order.
CREATE INDEX routing_waiting ON routing_entries (tenant_id, priority DESC, enqueued_at, conversation_id) WHERE state = 'waiting';
-- Positions and counts per queue.
CREATE INDEX routing_queue ON routing_entries (tenant_id, queue_id, state, priority DESC, enqueued_at);
-- An agent's conversations.
CREATE INDEX routing_agent ON routing_entries (agent_id) WHERE agent_id <> 0;

-- Every assignment, for expected waits and reports.
CREATE TABLE routing_history (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    queue_id        INTEGER NOT NULL,
    agent_id        INTEGER NOT NULL,
    enqueued_at     INTEGER NOT NULL,
    assigned_at     INTEGER NOT NULL,
    released_at     INTEGER NOT NULL DEFAULT 0,
    disposition     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX routing_history_queue ON routing_history (tenant_id, queue_id, id);
CREATE INDEX routing_history_conversation ON routing_history (conversation_id, id);

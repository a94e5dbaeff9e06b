-- Conversa schema, version 7: agents, teams, queues, routing rules, and the
-- conversations handed to agents. Parallel to the SQLite schema.

-- An agent. skills and teams are lists kept as ",a,b," (sorted, lower
-- case), so that "has skill x" is skills LIKE '%,x,%' on both stores.
-- load counts the entries offered to or assigned to the agent; every change
-- of it is an UPDATE of this row, which holds the row's lock, and the
-- routing_load check keeps it within capacity.
CREATE TABLE agents (
    id              bigserial   PRIMARY KEY,
    tenant_id       bigint      NOT NULL REFERENCES tenants (id),
    name            text        NOT NULL,
    email           text        NOT NULL DEFAULT '',
    role            text        NOT NULL,
    skills          text        NOT NULL DEFAULT ',',
    teams           text        NOT NULL DEFAULT ',',
    capacity        integer     NOT NULL,
    status          text        NOT NULL,
    status_since    timestamptz NOT NULL,
    load            integer     NOT NULL DEFAULT 0,
    idle_since      timestamptz NOT NULL,
    last_offered_at timestamptz,
    seen_at         timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT routing_load CHECK (load >= 0)
);
CREATE UNIQUE INDEX agents_email ON agents (tenant_id, email) WHERE email <> '';
-- The candidates of an offer: the tenant's available agents, longest idle
-- first.
CREATE INDEX agents_available ON agents (tenant_id, idle_since) WHERE status = 'available';

CREATE TABLE teams (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (tenant_id, name)
);

-- A queue. hours is a JSON array of spans; accept_timeout in milliseconds.
CREATE TABLE queues (
    id             bigserial   PRIMARY KEY,
    tenant_id      bigint      NOT NULL REFERENCES tenants (id),
    name           text        NOT NULL,
    strategy       text        NOT NULL,
    skills         text        NOT NULL DEFAULT ',',
    team_id        bigint      NOT NULL DEFAULT 0,
    priority       integer     NOT NULL DEFAULT 0,
    accept_timeout bigint      NOT NULL,
    hours          jsonb       NOT NULL DEFAULT '[]',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (tenant_id, name)
);

-- A tenant's routing rules, in order.
CREATE TABLE routing_rules (
    tenant_id      bigint  NOT NULL REFERENCES tenants (id),
    position       integer NOT NULL,
    intent         text    NOT NULL DEFAULT '',
    channel        text    NOT NULL DEFAULT '',
    attribute      text    NOT NULL DEFAULT '',
    value          text    NOT NULL DEFAULT '',
    queue_id       bigint  NOT NULL DEFAULT 0,
    priority_boost integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, position)
);

-- A conversation handed to agents: waiting, offered or assigned. One row
-- per conversation (the primary key), so one agent at most. version counts
-- changes and fences them: a change reads the row, locks the agents whose
-- load it changes (in id order), and updates the row only if its version
-- is the one it read. Like messages, no foreign keys: the caller checked
-- the conversation is the tenant's.
CREATE TABLE routing_entries (
    conversation_id bigint      PRIMARY KEY,
    tenant_id       bigint      NOT NULL,
    queue_id        bigint      NOT NULL,
    priority        integer     NOT NULL,
    state           text        NOT NULL,
    agent_id        bigint      NOT NULL DEFAULT 0,
    version         bigint      NOT NULL,
    deadline        timestamptz,
    enqueued_at     timestamptz NOT NULL,
    assigned_at     timestamptz,
    reason          text        NOT NULL DEFAULT '',
    intent          text        NOT NULL DEFAULT '',
    sentiment       text        NOT NULL DEFAULT '',
    note            text        NOT NULL DEFAULT ''
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
    id              bigserial   PRIMARY KEY,
    tenant_id       bigint      NOT NULL,
    conversation_id bigint      NOT NULL,
    queue_id        bigint      NOT NULL,
    agent_id        bigint      NOT NULL,
    enqueued_at     timestamptz NOT NULL,
    assigned_at     timestamptz NOT NULL,
    released_at     timestamptz,
    disposition     text        NOT NULL DEFAULT ''
);
CREATE INDEX routing_history_queue ON routing_history (tenant_id, queue_id, id);
CREATE INDEX routing_history_conversation ON routing_history (conversation_id, id);

-- Conversa schema, version 20: the report pipeline (issue 11). Parallel to
-- the PostgreSQL schema, where the tables are described; times are Unix
-- microseconds. Writers are serialized, so message ids are commit-ordered
-- and the watermark needs no gap handling here: report_gaps stays empty.
CREATE TABLE report_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    watermark INTEGER NOT NULL,
    gap_since INTEGER NOT NULL DEFAULT 0
);
INSERT INTO report_state (id, watermark) VALUES (1, 0);

CREATE TABLE report_gaps (
    id      INTEGER PRIMARY KEY,
    seen_at INTEGER NOT NULL
);

CREATE TABLE report_events (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    ref             INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL DEFAULT 0,
    contact_id      INTEGER NOT NULL DEFAULT 0,
    channel         TEXT    NOT NULL DEFAULT '',
    at              INTEGER NOT NULL,
    queue_id        INTEGER NOT NULL DEFAULT 0,
    agent_id        INTEGER NOT NULL DEFAULT 0,
    key             TEXT    NOT NULL DEFAULT '',
    detail          TEXT    NOT NULL DEFAULT '',
    score           REAL    NOT NULL DEFAULT 0,
    flag            INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE report_handoffs (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    queue_id        INTEGER NOT NULL,
    reason          TEXT    NOT NULL,
    intent          TEXT    NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX report_handoffs_conversation ON report_handoffs (conversation_id);
CREATE INDEX report_handoffs_tenant_at ON report_handoffs (tenant_id, at);

CREATE TABLE report_counters (
    tenant_id INTEGER NOT NULL,
    hour      INTEGER NOT NULL,
    metric    TEXT    NOT NULL,
    dim       TEXT    NOT NULL,
    dim2      TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, metric, hour, dim, dim2)
) WITHOUT ROWID;

CREATE TABLE report_conversations (
    tenant_id       INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    channel         TEXT    NOT NULL DEFAULT '',
    opened_at       INTEGER NOT NULL DEFAULT 0,
    queued_at       INTEGER NOT NULL DEFAULT 0,
    queue_id        INTEGER NOT NULL DEFAULT 0,
    assigned_at     INTEGER NOT NULL DEFAULT 0,
    agent_id        INTEGER NOT NULL DEFAULT 0,
    first_reply_at  INTEGER NOT NULL DEFAULT 0,
    closed_at       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, conversation_id)
);
CREATE INDEX report_conversations_opened ON report_conversations (tenant_id, opened_at);
CREATE INDEX report_conversations_replied ON report_conversations (tenant_id, first_reply_at) WHERE first_reply_at <> 0;
CREATE INDEX report_conversations_closed ON report_conversations (tenant_id, closed_at) WHERE closed_at <> 0;

CREATE INDEX cases_tenant_due ON cases (tenant_id, due);

CREATE TRIGGER report_handed_off AFTER INSERT ON routing_entries BEGIN
    INSERT INTO report_handoffs (tenant_id, conversation_id, queue_id, reason, intent, at)
        VALUES (NEW.tenant_id, NEW.conversation_id, NEW.queue_id, NEW.reason, NEW.intent, NEW.enqueued_at);
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, queue_id, key, detail)
        SELECT NEW.tenant_id, 'conversation.handed_off', last_insert_rowid(), NEW.conversation_id, c.contact_id, c.channel,
            NEW.enqueued_at, NEW.queue_id, NEW.reason, NEW.intent
        FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_assigned AFTER INSERT ON routing_history BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, queue_id, agent_id)
        SELECT NEW.tenant_id, 'conversation.assigned', NEW.id, NEW.conversation_id, c.contact_id, c.channel,
            NEW.assigned_at, NEW.queue_id, NEW.agent_id
        FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_closed AFTER UPDATE OF state ON conversations
    WHEN NEW.state = 'closed' AND OLD.state <> 'closed' BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, flag)
        VALUES (NEW.tenant_id, 'conversation.closed', NEW.id, NEW.id, NEW.contact_id, NEW.channel,
            CASE WHEN coalesce(NEW.closed_at, 0) <> 0 THEN NEW.closed_at ELSE NEW.updated_at END,
            NOT EXISTS (SELECT 1 FROM report_handoffs h WHERE h.conversation_id = NEW.id));
END;

CREATE TRIGGER report_analysed AFTER UPDATE OF analysis ON messages
    WHEN OLD.analysis IS NULL AND NEW.analysis IS NOT NULL AND NEW.direction = 'in' BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, key, score)
        VALUES (NEW.tenant_id,
            CASE WHEN coalesce(json_extract(NEW.analysis, '$.intent'), '') <> '' THEN 'intent.recognized' ELSE 'message.unrecognized' END,
            NEW.id, NEW.conversation_id, NEW.contact_id, NEW.channel, NEW.created_at,
            CASE WHEN coalesce(json_extract(NEW.analysis, '$.intent'), '') <> '' THEN json_extract(NEW.analysis, '$.intent') ELSE substr(NEW.body, 1, 500) END,
            coalesce(json_extract(NEW.analysis, '$.confidence'), 0));
END;

CREATE TRIGGER report_failed AFTER UPDATE OF status ON messages
    WHEN NEW.status = 'failed' AND OLD.status <> 'failed' BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, key)
        VALUES (NEW.tenant_id, 'message.failed', NEW.id, NEW.conversation_id, NEW.contact_id, NEW.channel,
            NEW.updated_at, NEW.failure_code);
END;

CREATE TRIGGER report_case_filed AFTER INSERT ON cases BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, key)
        VALUES (NEW.tenant_id, 'case.filed', NEW.id, NEW.conversation_id, NEW.contact_id, NEW.channel,
            NEW.filed_at, NEW.type);
END;

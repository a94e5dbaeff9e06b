-- Conversa schema, version 20: the report pipeline (issue 11). Parallel to
-- the SQLite schema. See docs/architecture.md, "Reports".
--
-- Messages are folded by id above a watermark, with no trigger, index or
-- insert added to their ingest. report_state holds the watermark (one row,
-- locked by the rollup for its whole transaction, so rollups and backfills
-- run one at a time) and, while the rollup waits for a gap below newer
-- committed ids, since when. report_gaps are the ids passed over after the
-- wait: an id that commits late is folded when it appears, and a gap is
-- forgotten after an hour (rolled-back ids and ON CONFLICT DO NOTHING leave
-- gaps that never fill).
CREATE TABLE report_state (
    id        integer     PRIMARY KEY CHECK (id = 1),
    watermark bigint      NOT NULL,
    gap_since timestamptz
);
INSERT INTO report_state (id, watermark) VALUES (1, 0);

CREATE TABLE report_gaps (
    id      bigint      PRIMARY KEY,
    seen_at timestamptz NOT NULL
);

-- The outbox of the lower-volume facts, written by the triggers below in the
-- transaction of the fact, consumed (deleted) by the rollup in the
-- transaction that folds it. ref is the fact's row (see reports.Row); key
-- and detail its small dimensions (a reason and an intent, a failure code,
-- an intent, the unrecognized text, a case type).
CREATE TABLE report_events (
    id              bigserial        PRIMARY KEY,
    tenant_id       bigint           NOT NULL,
    name            text             NOT NULL,
    ref             bigint           NOT NULL,
    conversation_id bigint           NOT NULL DEFAULT 0,
    contact_id      bigint           NOT NULL DEFAULT 0,
    channel         text             NOT NULL DEFAULT '',
    at              timestamptz      NOT NULL,
    queue_id        bigint           NOT NULL DEFAULT 0,
    agent_id        bigint           NOT NULL DEFAULT 0,
    key             text             NOT NULL DEFAULT '',
    detail          text             NOT NULL DEFAULT '',
    score           double precision NOT NULL DEFAULT 0,
    flag            boolean          NOT NULL DEFAULT false
);

-- Every handoff (a conversation entering an agents' queue), kept: the
-- routing entry is removed when the conversation leaves the queue and the
-- routing history records only assignments, so this is what a backfill
-- and the containment of a close read.
CREATE TABLE report_handoffs (
    id              bigserial   PRIMARY KEY,
    tenant_id       bigint      NOT NULL,
    conversation_id bigint      NOT NULL,
    queue_id        bigint      NOT NULL,
    reason          text        NOT NULL,
    intent          text        NOT NULL,
    at              timestamptz NOT NULL
);
CREATE INDEX report_handoffs_conversation ON report_handoffs (conversation_id);
CREATE INDEX report_handoffs_tenant_at ON report_handoffs (tenant_id, at);

-- Counters per tenant, hour (UTC) and metric with its dimensions
-- (reports.Counter). The key's order serves a report: the hours of a
-- period of each metric it reads, without the rows of the others (the many
-- unrecognized texts).
CREATE TABLE report_counters (
    tenant_id bigint      NOT NULL,
    hour      timestamptz NOT NULL,
    metric    text        NOT NULL,
    dim       text        NOT NULL,
    dim2      text        NOT NULL,
    n         bigint      NOT NULL,
    PRIMARY KEY (tenant_id, metric, hour, dim, dim2)
);

-- One row per conversation (reports.Fact): medians and p90 are computed
-- exactly over the rows of a period. The indexes of the periods cover the
-- columns the timings read, so a month of a tenant is an index-only scan
-- (12 ms against 200 ms for 11,500 rows of 1M); a row changes a few times
-- in its first hours, so autovacuum keeps the visibility map current
-- sooner than by default.
CREATE TABLE report_conversations (
    tenant_id       bigint      NOT NULL,
    conversation_id bigint      NOT NULL,
    channel         text        NOT NULL DEFAULT '',
    opened_at       timestamptz,
    queued_at       timestamptz,
    queue_id        bigint      NOT NULL DEFAULT 0,
    assigned_at     timestamptz,
    agent_id        bigint      NOT NULL DEFAULT 0,
    first_reply_at  timestamptz,
    closed_at       timestamptz,
    PRIMARY KEY (tenant_id, conversation_id)
) WITH (autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX report_conversations_opened ON report_conversations (tenant_id, opened_at);
CREATE INDEX report_conversations_replied ON report_conversations (tenant_id, first_reply_at)
    INCLUDE (opened_at, queued_at, channel, queue_id, agent_id) WHERE first_reply_at IS NOT NULL;
CREATE INDEX report_conversations_closed ON report_conversations (tenant_id, closed_at)
    INCLUDE (opened_at, queued_at, channel, queue_id, agent_id) WHERE closed_at IS NOT NULL;

-- The due date of a period's cases (SLA compliance).
CREATE INDEX cases_tenant_due ON cases (tenant_id, due);

CREATE FUNCTION report_handed_off() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    h_id bigint;
BEGIN
    INSERT INTO report_handoffs (tenant_id, conversation_id, queue_id, reason, intent, at)
        VALUES (NEW.tenant_id, NEW.conversation_id, NEW.queue_id, NEW.reason, NEW.intent, NEW.enqueued_at)
        RETURNING id INTO h_id;
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, queue_id, key, detail)
        SELECT NEW.tenant_id, 'conversation.handed_off', h_id, NEW.conversation_id, c.contact_id, c.channel,
            NEW.enqueued_at, NEW.queue_id, NEW.reason, NEW.intent
        FROM conversations c WHERE c.id = NEW.conversation_id;
    RETURN NULL;
END $$;
CREATE TRIGGER report_handed_off AFTER INSERT ON routing_entries
    FOR EACH ROW EXECUTE FUNCTION report_handed_off();

CREATE FUNCTION report_assigned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, queue_id, agent_id)
        SELECT NEW.tenant_id, 'conversation.assigned', NEW.id, NEW.conversation_id, c.contact_id, c.channel,
            NEW.assigned_at, NEW.queue_id, NEW.agent_id
        FROM conversations c WHERE c.id = NEW.conversation_id;
    RETURN NULL;
END $$;
CREATE TRIGGER report_assigned AFTER INSERT ON routing_history
    FOR EACH ROW EXECUTE FUNCTION report_assigned();

CREATE FUNCTION report_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, flag)
        VALUES (NEW.tenant_id, 'conversation.closed', NEW.id, NEW.id, NEW.contact_id, NEW.channel,
            coalesce(NEW.closed_at, NEW.updated_at),
            NOT EXISTS (SELECT 1 FROM report_handoffs h WHERE h.conversation_id = NEW.id));
    RETURN NULL;
END $$;
-- Only a change of state fires it: the update of every message (last_seq,
-- last_message_at) does not name the column.
CREATE TRIGGER report_closed AFTER UPDATE OF state ON conversations
    FOR EACH ROW WHEN (NEW.state = 'closed' AND OLD.state <> 'closed') EXECUTE FUNCTION report_closed();

CREATE FUNCTION report_analysed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, key, score)
        VALUES (NEW.tenant_id,
            CASE WHEN coalesce(NEW.analysis->>'intent', '') <> '' THEN 'intent.recognized' ELSE 'message.unrecognized' END,
            NEW.id, NEW.conversation_id, NEW.contact_id, NEW.channel, NEW.created_at,
            CASE WHEN coalesce(NEW.analysis->>'intent', '') <> '' THEN NEW.analysis->>'intent' ELSE left(NEW.body, 500) END,
            coalesce((NEW.analysis->>'confidence')::double precision, 0));
    RETURN NULL;
END $$;
-- The first analysis of an inbound message; inserts fire nothing.
CREATE TRIGGER report_analysed AFTER UPDATE OF analysis ON messages
    FOR EACH ROW WHEN (OLD.analysis IS NULL AND NEW.analysis IS NOT NULL AND NEW.direction = 'in')
    EXECUTE FUNCTION report_analysed();

CREATE FUNCTION report_failed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, key)
        VALUES (NEW.tenant_id, 'message.failed', NEW.id, NEW.conversation_id, NEW.contact_id, NEW.channel,
            NEW.updated_at, NEW.failure_code);
    RETURN NULL;
END $$;
CREATE TRIGGER report_failed AFTER UPDATE OF status ON messages
    FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status <> 'failed') EXECUTE FUNCTION report_failed();

CREATE FUNCTION report_case_filed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_events (tenant_id, name, ref, conversation_id, contact_id, channel, at, key)
        VALUES (NEW.tenant_id, 'case.filed', NEW.id, NEW.conversation_id, NEW.contact_id, NEW.channel,
            NEW.filed_at, NEW.type);
    RETURN NULL;
END $$;
CREATE TRIGGER report_case_filed AFTER INSERT ON cases
    FOR EACH ROW EXECUTE FUNCTION report_case_filed();

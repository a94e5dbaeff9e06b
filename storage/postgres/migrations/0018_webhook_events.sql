-- Conversa schema, version 18: the events each webhook endpoint was given,
-- so that an event emitted again (a retried status_changed job) is
-- enqueued once per endpoint. Rows older than 30 days are forgotten.
-- Parallel to the SQLite schema.
CREATE TABLE webhook_events (
    endpoint_id bigint      NOT NULL,
    event_id    text        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

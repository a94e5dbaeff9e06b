-- The events each webhook endpoint was given, so that an event emitted
-- again (a retried status_changed job) is enqueued once per endpoint. Rows
-- older than 30 days are forgotten. Times are Unix microseconds. Parallel
-- to the PostgreSQL schema.
CREATE TABLE webhook_events (
    endpoint_id INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_events_created ON webhook_events (created_at);

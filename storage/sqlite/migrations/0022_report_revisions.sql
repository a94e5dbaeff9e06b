-- Conversa schema, version 22: the revisions of settled report days
-- (issue 11). Parallel to the PostgreSQL schema, where they are described;
-- day is midnight UTC in Unix microseconds.
ALTER TABLE report_state ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TABLE report_changes (
    tenant_id INTEGER NOT NULL,
    day       INTEGER NOT NULL,
    revision  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

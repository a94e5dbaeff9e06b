-- Conversa schema, version 22: the revisions of settled report days
-- (issue 11). Parallel to the SQLite schema. See reports.Settled and
-- Aggregates.Revision: a rollup that changes the aggregates of a day before
-- yesterday (UTC), and every backfill, takes the next revision from
-- report_state (whose row it holds locked, so revisions grow in the order
-- they commit) and marks with it the days of each tenant it changed. A
-- report of a settled period is kept while the revision of its days stays
-- the same.
ALTER TABLE report_state ADD COLUMN revision bigint NOT NULL DEFAULT 0;

CREATE TABLE report_changes (
    tenant_id bigint NOT NULL,
    day       date   NOT NULL,
    revision  bigint NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

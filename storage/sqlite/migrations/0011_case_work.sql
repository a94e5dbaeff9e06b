-- The work on support cases: who a case is assigned to, the pause of its
-- term while it waits on the customer, terms in business hours, its
-- attachments, and the index of date-range lists. Times are Unix
-- microseconds; 0 means "not set". Parallel to the PostgreSQL schema.

-- assignee_id and team_id are the tenant's agent and team (0 for none),
-- checked by the service. paused_at is when the term stopped (0 while it
-- runs) and pause_reason why; paused_units is how much the term was
-- suspended in all, in business days (business minutes for a term in
-- hours). term_hours, when not 0, is the term in business hours.
ALTER TABLE cases ADD COLUMN assignee_id  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN team_id      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN paused_at    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN pause_reason TEXT    NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN paused_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN term_hours   INTEGER NOT NULL DEFAULT 0;

-- Lists of a date range, newest first, with their cursor over (filed_at, id).
CREATE INDEX cases_tenant_filed ON cases (tenant_id, filed_at, id);
-- An agent's and a team's cases.
CREATE INDEX cases_assignee ON cases (tenant_id, assignee_id, id) WHERE assignee_id <> 0;
CREATE INDEX cases_team ON cases (tenant_id, team_id, id) WHERE team_id <> 0;

-- A case's attachments: files of the media store under media_key.
CREATE TABLE case_attachments (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    media_key    TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    filename     TEXT    NOT NULL DEFAULT '',
    size         INTEGER NOT NULL,
    added_by     TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX case_attachments_case ON case_attachments (tenant_id, case_id, id);

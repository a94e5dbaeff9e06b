-- Conversa schema, version 11: the work on support cases. Who a case is
-- assigned to, the pause of its term while it waits on the customer, terms
-- in business hours, its attachments, and the index of date-range lists.
-- Parallel to the SQLite schema.

-- assignee_id and team_id are the tenant's agent and team (0 for none),
-- checked by the service. paused_at is when the term stopped (NULL while it
-- runs) and pause_reason why; paused_units is how much the term was
-- suspended in all, in business days (business minutes for a term in
-- hours). term_hours, when not 0, is the term in business hours.
ALTER TABLE cases
    ADD COLUMN assignee_id  bigint      NOT NULL DEFAULT 0,
    ADD COLUMN team_id      bigint      NOT NULL DEFAULT 0,
    ADD COLUMN paused_at    timestamptz,
    ADD COLUMN pause_reason text        NOT NULL DEFAULT '',
    ADD COLUMN paused_units integer     NOT NULL DEFAULT 0,
    ADD COLUMN term_hours   integer     NOT NULL DEFAULT 0;

-- Lists of a date range, newest first, with their cursor over (filed_at, id):
-- a walk of the range alone, not of the tenant's newer cases.
CREATE INDEX cases_tenant_filed ON cases (tenant_id, filed_at, id);
-- An agent's and a team's cases.
CREATE INDEX cases_assignee ON cases (tenant_id, assignee_id, id) WHERE assignee_id <> 0;
CREATE INDEX cases_team ON cases (tenant_id, team_id, id) WHERE team_id <> 0;

-- A case's attachments: files of the media store under media_key.
CREATE TABLE case_attachments (
    id           bigserial   PRIMARY KEY,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id),
    case_id      bigint      NOT NULL REFERENCES cases (id),
    media_key    text        NOT NULL,
    content_type text        NOT NULL,
    filename     text        NOT NULL DEFAULT '',
    size         bigint      NOT NULL,
    added_by     text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL
);
CREATE INDEX case_attachments_case ON case_attachments (tenant_id, case_id, id);

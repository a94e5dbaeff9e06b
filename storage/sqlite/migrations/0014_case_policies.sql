-- A tenant's case policy, as a JSON document (handoff.CasePolicy).
CREATE TABLE case_policies (
    tenant_id  INTEGER PRIMARY KEY REFERENCES tenants (id),
    policy     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

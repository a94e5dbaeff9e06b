package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"conversa/conversation"
	"conversa/handoff"
)

// CasePolicy implements handoff.CasePolicyStore.
func (s *Store) CasePolicy(ctx context.Context, tenantID int64) (handoff.CasePolicy, error) {
	var doc string
	if err := s.pool.QueryRow(ctx, `SELECT policy::text FROM case_policies WHERE tenant_id = $1`, tenantID).Scan(&doc); err != nil {
		return handoff.CasePolicy{}, notFound(err, "case policy")
	}
	var p handoff.CasePolicy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return p, fmt.Errorf("decode case policy: %w", err)
	}
	return p, nil
}

// PutCasePolicy implements handoff.CasePolicyStore.
func (s *Store) PutCasePolicy(ctx context.Context, tenantID int64, p handoff.CasePolicy) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode case policy: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO case_policies (tenant_id, policy, updated_at) VALUES ($1, $2::jsonb, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
		tenantID, string(doc), now())
	if isForeignKey(err) {
		return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return err
}

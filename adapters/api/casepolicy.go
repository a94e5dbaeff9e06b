package api

import (
	"context"
	"net/http"

	"conversa/handoff"
)

// CasePolicies is what the API needs of the case service to read and
// replace a tenant's case policy; part of Cases.
type CasePolicies interface {
	// Policy returns the tenant's case policy, as stored and as applied.
	Policy(ctx context.Context, tenantID int64) (handoff.PolicyView, error)
	// PutPolicy validates and stores the tenant's case policy. Returns
	// EINVALID naming the field, EUNAVAILABLE when the server keeps no
	// policies.
	PutPolicy(ctx context.Context, tenantID int64, p handoff.CasePolicy) error
}

func (a *API) getCasePolicy(w http.ResponseWriter, r *http.Request, t tenant) error {
	v, err := a.cfg.Cases.Policy(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// decodeCasePolicy parses and validates a tenant's case policy.
func decodeCasePolicy(body []byte) (handoff.CasePolicy, error) {
	var p handoff.CasePolicy
	if err := decodeJSON(body, &p); err != nil {
		return handoff.CasePolicy{}, err
	}
	if err := p.Validate(); err != nil {
		return handoff.CasePolicy{}, err
	}
	return p, nil
}

// putCasePolicy replaces the tenant's case policy with a whole new one and
// answers it as stored and applied. The cases filed before keep their due
// dates.
func (a *API) putCasePolicy(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	p, err := decodeCasePolicy(body)
	if err != nil {
		return err
	}
	if err := a.cfg.Cases.PutPolicy(r.Context(), t.ID, p); err != nil {
		return err
	}
	return a.getCasePolicy(w, r, t)
}

package console

import (
	"context"
	"net/http"

	"conversa/billing"
	"conversa/conversation"
)

// Billing reads a tenant's monthly statements (*billing.Service). Months
// are "2006-01"; a malformed one, or one not begun, is EINVALID.
type Billing interface {
	Statements(ctx context.Context, tenantID int64) ([]billing.Statement, error)
	Statement(ctx context.Context, tenantID int64, month billing.Month) (billing.Statement, error)
}

var _ Billing = (*billing.Service)(nil)

// billingPage shows an admin the tenant's statements, and one of them
// (?month=, default the newest) in detail.
func (c *Console) billingPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	if c.deps.Billing == nil {
		return conversation.Errorf(conversation.ENOTFOUND, "this server bills no one")
	}
	list, err := c.deps.Billing.Statements(r.Context(), rq.agent.TenantID)
	if err != nil {
		return err
	}
	var shown *billing.Statement
	if m := r.URL.Query().Get("month"); m != "" {
		st, err := c.deps.Billing.Statement(r.Context(), rq.agent.TenantID, m)
		if err != nil {
			return err
		}
		shown = &st
	} else if len(list) > 0 {
		shown = &list[0]
	}
	c.render(w, rq, http.StatusOK, "billing", map[string]any{"Statements": list, "Shown": shown})
	return nil
}

// billingExport downloads a statement of the tenant as CSV.
func (c *Console) billingExport(w http.ResponseWriter, r *http.Request, rq *request) error {
	if c.deps.Billing == nil {
		return conversation.Errorf(conversation.ENOTFOUND, "this server bills no one")
	}
	month := r.URL.Query().Get("month")
	st, err := c.deps.Billing.Statement(r.Context(), rq.agent.TenantID, month)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="statement-`+st.Month+`.csv"`)
	return billing.WriteCSV(w, st)
}

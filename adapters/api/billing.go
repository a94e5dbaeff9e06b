package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"conversa/billing"
	"conversa/conversation"
)

// Billing is what the API needs of the billing service. *billing.Service
// implements it; it must be safe for concurrent use. Months are
// "2006-01": a malformed one, or one not begun (or for Close not ended),
// is EINVALID naming month.
type Billing interface {
	CreatePlan(ctx context.Context, p billing.Plan) (billing.Plan, error)
	// UpdatePlan returns ENOTFOUND for a missing plan, EINVALID for
	// another currency.
	UpdatePlan(ctx context.Context, p billing.Plan) (billing.Plan, error)
	Plan(ctx context.Context, id int64) (billing.Plan, error)
	Plans(ctx context.Context) ([]billing.Plan, error)
	// Subscribe and CreateRate return EINVALID for overlapping ranges or
	// a currency not the tenant's, storing nothing.
	Subscribe(ctx context.Context, s billing.Subscription) (billing.Subscription, error)
	DeleteSubscription(ctx context.Context, tenantID, id int64) error
	CreateRate(ctx context.Context, r billing.Rate) (billing.Rate, error)
	DeleteRate(ctx context.Context, tenantID, id int64) error
	Terms(ctx context.Context, tenantID int64) (billing.Terms, error)
	Statement(ctx context.Context, tenantID int64, month billing.Month) (billing.Statement, error)
	Statements(ctx context.Context, tenantID int64) ([]billing.Statement, error)
	Close(ctx context.Context, tenantID int64, month billing.Month) (billing.Statement, bool, error)
	CloseMonth(ctx context.Context, month billing.Month) ([]billing.Statement, error)
	MonthStatements(ctx context.Context, month billing.Month) ([]billing.Statement, error)
	Usage(ctx context.Context, tenantID int64, month billing.Month) (billing.Usage, error)
}

var _ Billing = (*billing.Service)(nil)

// The operator of the platform (the company that hosts the tenants and
// bills them) is not a tenant: it authenticates with the operator token,
// "cop_" and 43 characters, of which the server keeps only the SHA-256
// (Config.OperatorTokenHash), and may use only the routes under
// /api/v1/operator/. A tenant's key is no operator token and the operator
// token is no tenant's key, so the operator reads no tenant's content.
const operatorPrefix = "cop_"

// NewOperatorToken returns a new operator token, to show once, and the
// hex SHA-256 to configure as operator_token_hash.
func NewOperatorToken() (token, hash string) {
	secret := make([]byte, 32)
	rand.Read(secret)
	token = operatorPrefix + base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}

// operatorRoutes are the operator's: billing terms, usage and statements
// of every tenant.
var operatorRoutes = []struct {
	method, path string
	handle       func(a *API, w http.ResponseWriter, r *http.Request) error
}{
	{"GET", "/api/v1/operator/plans", (*API).listPlans},
	{"POST", "/api/v1/operator/plans", (*API).createPlan},
	{"GET", "/api/v1/operator/plans/{id}", (*API).getPlan},
	{"PUT", "/api/v1/operator/plans/{id}", (*API).updatePlan},
	{"GET", "/api/v1/operator/tenants/{tenant}/terms", (*API).getTerms},
	{"POST", "/api/v1/operator/tenants/{tenant}/subscriptions", (*API).createSubscription},
	{"DELETE", "/api/v1/operator/tenants/{tenant}/subscriptions/{id}", (*API).deleteSubscription},
	{"POST", "/api/v1/operator/tenants/{tenant}/rates", (*API).createRate},
	{"DELETE", "/api/v1/operator/tenants/{tenant}/rates/{id}", (*API).deleteRate},
	{"GET", "/api/v1/operator/tenants/{tenant}/usage/{month}", (*API).tenantUsage},
	{"GET", "/api/v1/operator/tenants/{tenant}/statements/{month}", (*API).operatorStatement},
	{"POST", "/api/v1/operator/tenants/{tenant}/statements/{month}/close", (*API).closeStatement},
	{"GET", "/api/v1/operator/usage/{month}", (*API).monthUsage},
	{"GET", "/api/v1/operator/statements/{month}", (*API).monthStatements},
	{"POST", "/api/v1/operator/statements/{month}/close", (*API).closeMonth},
}

// billingRoutes registers the operator's routes on mux.
func (a *API) billingRoutes(mux *http.ServeMux) {
	for _, rt := range operatorRoutes {
		mux.HandleFunc(rt.method+" "+rt.path, a.operator(rt.handle))
	}
}

// operator checks the operator token and its rate limit, then runs h.
func (a *API) operator(h func(a *API, w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := a.authenticateOperator(r)
		if err == nil && a.cfg.Billing == nil {
			err = conversation.Errorf(conversation.EUNAVAILABLE, "this server has no billing service")
		}
		if err == nil {
			ok, retry, lerr := a.limiter.Allow(r.Context(), "api:operator", a.cfg.RequestsPerMinute, time.Minute)
			if lerr != nil {
				a.logger.WarnContext(r.Context(), "rate limiter unavailable", "err", lerr)
			} else if !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
				err = conversation.Errorf(conversation.ERATELIMIT, "more than %d requests per minute with the operator token", a.cfg.RequestsPerMinute)
			}
		}
		if err == nil {
			err = h(a, w, r)
		}
		if err != nil {
			if conversation.ErrorCode(err) == conversation.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="conversa-operator"`)
			}
			a.writeError(w, r, err)
		}
	}
}

func (a *API) authenticateOperator(r *http.Request) error {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	raw = strings.TrimLeft(raw, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(raw, operatorPrefix) {
		return conversation.Errorf(conversation.EUNAUTHORIZED, "send the operator token as Authorization: Bearer cop_...")
	}
	sum := sha256.Sum256([]byte(raw))
	if len(a.cfg.OperatorTokenHash) != sha256.Size || subtle.ConstantTimeCompare(sum[:], a.cfg.OperatorTokenHash) != 1 {
		return conversation.Errorf(conversation.EUNAUTHORIZED, "invalid operator token")
	}
	return nil
}

// withBilling serves a tenant's billing route, or answers 503 when the
// server has no billing service.
func withBilling(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Billing == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no billing service")
		}
		return h(a, w, r, t)
	}
}

// planRequest is the body of POST and PUT /operator/plans.
type planRequest struct {
	Name         string           `json:"name"`
	Currency     string           `json:"currency"`
	MonthlyFee   int64            `json:"monthly_fee"`
	DefaultPrice int64            `json:"default_price"`
	Prices       map[string]int64 `json:"prices"`
}

// decodePlan parses and validates a plan.
func decodePlan(body []byte) (billing.Plan, error) {
	var req planRequest
	if err := decodeJSON(body, &req); err != nil {
		return billing.Plan{}, err
	}
	p := billing.Plan{Name: req.Name, Currency: req.Currency, MonthlyFee: req.MonthlyFee, DefaultPrice: req.DefaultPrice}
	if len(req.Prices) > 0 {
		p.Prices = map[conversation.ChannelKind]int64{}
		for ch, v := range req.Prices {
			p.Prices[conversation.ChannelKind(ch)] = v
		}
	}
	return p, p.Validate()
}

// subscriptionRequest is the body of POST .../subscriptions.
type subscriptionRequest struct {
	PlanID    int64  `json:"plan_id"`
	ValidFrom string `json:"valid_from"`
	ValidTo   string `json:"valid_to"`
}

// decodeSubscription parses and validates a subscription of tenantID.
func decodeSubscription(body []byte, tenantID int64) (billing.Subscription, error) {
	var req subscriptionRequest
	if err := decodeJSON(body, &req); err != nil {
		return billing.Subscription{}, err
	}
	s := billing.Subscription{TenantID: tenantID, PlanID: req.PlanID, Range: billing.Range{ValidFrom: req.ValidFrom, ValidTo: req.ValidTo}}
	return s, s.Validate()
}

// rateRequest is the body of POST .../rates.
type rateRequest struct {
	Channel   conversation.ChannelKind `json:"channel"`
	Price     int64                    `json:"price"`
	Currency  string                   `json:"currency"`
	ValidFrom string                   `json:"valid_from"`
	ValidTo   string                   `json:"valid_to"`
}

// decodeRate parses and validates a rate of tenantID.
func decodeRate(body []byte, tenantID int64) (billing.Rate, error) {
	var req rateRequest
	if err := decodeJSON(body, &req); err != nil {
		return billing.Rate{}, err
	}
	r := billing.Rate{TenantID: tenantID, Channel: req.Channel, Price: req.Price, Currency: req.Currency,
		Range: billing.Range{ValidFrom: req.ValidFrom, ValidTo: req.ValidTo}}
	return r, r.Validate()
}

func (a *API) listPlans(w http.ResponseWriter, r *http.Request) error {
	plans, err := a.cfg.Billing.Plans(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"plans": nonNil(plans)})
	return nil
}

func (a *API) createPlan(w http.ResponseWriter, r *http.Request) error {
	return saveBody(a, w, r, http.StatusCreated, decodePlan, a.cfg.Billing.CreatePlan)
}

// saveBody decodes the request's body, saves it, and answers what was saved
// with status.
func saveBody[T any](a *API, w http.ResponseWriter, r *http.Request, status int, decode func([]byte) (T, error), save func(context.Context, T) (T, error)) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	v, err := decode(body)
	if err != nil {
		return err
	}
	if v, err = save(r.Context(), v); err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func (a *API) getPlan(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := a.cfg.Billing.Plan(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (a *API) updatePlan(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return saveBody(a, w, r, http.StatusOK, func(body []byte) (billing.Plan, error) {
		p, err := decodePlan(body)
		p.ID = id
		return p, err
	}, a.cfg.Billing.UpdatePlan)
}

// pathTenant returns the tenant named in the path, or ENOTFOUND.
func (a *API) pathTenant(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("tenant"), 10, 64)
	if err != nil || id <= 0 {
		return 0, conversation.Errorf(conversation.ENOTFOUND, "%q is not a tenant id", r.PathValue("tenant"))
	}
	if _, err := a.store.Tenant(r.Context(), id); err != nil {
		return 0, err
	}
	return id, nil
}

// termsBody is the JSON of a tenant's terms.
type termsBody struct {
	TenantID      int64                  `json:"tenant_id"`
	Subscriptions []billing.Subscription `json:"subscriptions"`
	Plans         []billing.Plan         `json:"plans"`
	Rates         []billing.Rate         `json:"rates"`
}

func (a *API) getTerms(w http.ResponseWriter, r *http.Request) error {
	tenantID, err := a.pathTenant(r)
	if err != nil {
		return err
	}
	t, err := a.cfg.Billing.Terms(r.Context(), tenantID)
	if err != nil {
		return err
	}
	out := termsBody{TenantID: tenantID, Subscriptions: nonNil(t.Subscriptions), Plans: []billing.Plan{}, Rates: nonNil(t.Rates)}
	for _, s := range t.Subscriptions {
		if p, ok := t.Plans[s.PlanID]; ok {
			out.Plans = append(out.Plans, p)
			delete(t.Plans, s.PlanID)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createSubscription(w http.ResponseWriter, r *http.Request) error {
	tenantID, err := a.pathTenant(r)
	if err != nil {
		return err
	}
	return saveBody(a, w, r, http.StatusCreated, func(body []byte) (billing.Subscription, error) {
		return decodeSubscription(body, tenantID)
	}, a.cfg.Billing.Subscribe)
}

func (a *API) createRate(w http.ResponseWriter, r *http.Request) error {
	tenantID, err := a.pathTenant(r)
	if err != nil {
		return err
	}
	return saveBody(a, w, r, http.StatusCreated, func(body []byte) (billing.Rate, error) {
		return decodeRate(body, tenantID)
	}, a.cfg.Billing.CreateRate)
}

func (a *API) deleteSubscription(w http.ResponseWriter, r *http.Request) error {
	return a.deleteTerm(w, r, Billing.DeleteSubscription)
}

func (a *API) deleteRate(w http.ResponseWriter, r *http.Request) error {
	return a.deleteTerm(w, r, Billing.DeleteRate)
}

func (a *API) deleteTerm(w http.ResponseWriter, r *http.Request, del func(Billing, context.Context, int64, int64) error) error {
	tenantID, err := a.pathTenant(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := del(a.cfg.Billing, r.Context(), tenantID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) tenantUsage(w http.ResponseWriter, r *http.Request) error {
	tenantID, err := a.pathTenant(r)
	if err != nil {
		return err
	}
	u, err := a.cfg.Billing.Usage(r.Context(), tenantID, r.PathValue("month"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// monthUsage answers the usage of month of every tenant with billing
// terms.
func (a *API) monthUsage(w http.ResponseWriter, r *http.Request) error {
	month := r.PathValue("month")
	sts, err := a.cfg.Billing.MonthStatements(r.Context(), month)
	if err != nil {
		return err
	}
	out := []billing.Usage{}
	for _, st := range sts {
		u, err := a.cfg.Billing.Usage(r.Context(), st.TenantID, month)
		if err != nil {
			return err
		}
		out = append(out, u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"month": month, "usage": out})
	return nil
}

// monthParam returns the path's month and whether it asks for CSV
// ("2026-10.csv").
func monthParam(r *http.Request) (billing.Month, bool) {
	m, csv := strings.CutSuffix(r.PathValue("month"), ".csv")
	return m, csv
}

// writeStatements answers statements as JSON (one, or a list under
// "statements"), or as CSV named name.
func writeStatements(w http.ResponseWriter, asCSV bool, name string, one bool, sts ...billing.Statement) error {
	if asCSV {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, name))
		w.WriteHeader(http.StatusOK)
		return billing.WriteCSV(w, sts...)
	}
	if one {
		writeJSON(w, http.StatusOK, sts[0])
	} else {
		writeJSON(w, http.StatusOK, map[string]any{"statements": nonNil(sts)})
	}
	return nil
}

func (a *API) operatorStatement(w http.ResponseWriter, r *http.Request) error {
	tenantID, err := a.pathTenant(r)
	if err != nil {
		return err
	}
	month, asCSV := monthParam(r)
	st, err := a.cfg.Billing.Statement(r.Context(), tenantID, month)
	if err != nil {
		return err
	}
	return writeStatements(w, asCSV, fmt.Sprintf("statement-%d-%s", tenantID, month), true, st)
}

func (a *API) closeStatement(w http.ResponseWriter, r *http.Request) error {
	tenantID, err := a.pathTenant(r)
	if err != nil {
		return err
	}
	st, closed, err := a.cfg.Billing.Close(r.Context(), tenantID, r.PathValue("month"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if closed {
		status = http.StatusCreated
	}
	writeJSON(w, status, st)
	return nil
}

func (a *API) monthStatements(w http.ResponseWriter, r *http.Request) error {
	month, asCSV := monthParam(r)
	sts, err := a.cfg.Billing.MonthStatements(r.Context(), month)
	if err != nil {
		return err
	}
	return writeStatements(w, asCSV, "statements-"+month, false, sts...)
}

func (a *API) closeMonth(w http.ResponseWriter, r *http.Request) error {
	sts, err := a.cfg.Billing.CloseMonth(r.Context(), r.PathValue("month"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"statements": nonNil(sts)})
	return nil
}

// listStatements answers the calling tenant's statements, newest first.
func (a *API) listStatements(w http.ResponseWriter, r *http.Request, t tenant) error {
	sts, err := a.cfg.Billing.Statements(r.Context(), t.ID)
	if err != nil {
		return err
	}
	return writeStatements(w, false, "", false, sts...)
}

// getStatement answers the calling tenant's statement of a month, as JSON
// or, for "2026-10.csv", CSV.
func (a *API) getStatement(w http.ResponseWriter, r *http.Request, t tenant) error {
	month, asCSV := monthParam(r)
	st, err := a.cfg.Billing.Statement(r.Context(), t.ID, month)
	if err != nil {
		return err
	}
	return writeStatements(w, asCSV, "statement-"+month, true, st)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

package api

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/handoff"
)

// Cases is what the API needs of the case service to file cases and move
// them along. *handoff.Cases implements it.
type Cases interface {
	// File validates a filing and stores it as a new case. Returns
	// EINVALID naming the field of a bad filing.
	File(ctx context.Context, tenant conversation.Tenant, f handoff.Filing) (handoff.Case, error)
	// Transition moves a case to another status. Returns ENOTFOUND when
	// the case is not the tenant's, EINVALID for an unknown status, and
	// ECONFLICT naming the allowed statuses when the move is not allowed.
	Transition(ctx context.Context, tenantID, id int64, to handoff.CaseStatus, actor, note string) (handoff.Case, error)
	// Resolve resolves a case with the answer the customer is told.
	// Returns EINVALID naming answer, ENOTFOUND and ECONFLICT as
	// Transition does.
	Resolve(ctx context.Context, tenantID, id int64, answer, actor string) (handoff.Case, error)
	// Extend extends a case's term once. Returns EINVALID naming days or
	// reason, and ECONFLICT when the case may not be extended.
	Extend(ctx context.Context, tenant conversation.Tenant, id int64, days int, reason, actor string) (handoff.Case, error)
	CaseWork
	CasePolicies
}

var (
	_ Cases     = (*handoff.Cases)(nil)
	_ CaseStore = handoff.CaseStore(nil)
)

// CaseStore is what the API reads of cases. handoff.CaseStore implements
// it.
type CaseStore interface {
	Case(ctx context.Context, tenantID, id int64) (handoff.Case, error)
	CaseByRadicado(ctx context.Context, tenantID int64, radicado string) (handoff.Case, error)
	CaseHistory(ctx context.Context, tenantID, caseID int64) ([]handoff.CaseEvent, error)
	ListCases(ctx context.Context, tenantID int64, f handoff.CaseFilter) ([]handoff.Case, error)
	CaseAttachments(ctx context.Context, tenantID, caseID int64) ([]handoff.CaseAttachment, error)
}

// Limits of the case routes.
const (
	// maxExportRows bounds a CSV export; narrower filters get the rest.
	maxExportRows = 100_000
	// exportPage is how many cases an export reads at a time.
	exportPage = 500
	// maxCaseNote bounds the note of a status change, in characters.
	maxCaseNote = 2000
)

// withCases serves a case route, or answers 503 when the server has no
// case service.
func withCases(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Cases == nil || a.cfg.CaseStore == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no case service")
		}
		return h(a, w, r, t)
	}
}

// actorOf is who the API acts as in a case's history.
func actorOf(t tenant) string { return "api:" + t.Key }

// caseRequest is the body of POST /cases.
type caseRequest struct {
	Type           string            `json:"type"`
	ContactID      int64             `json:"contact_id"`
	ConversationID int64             `json:"conversation_id"`
	Channel        string            `json:"channel"`
	Subject        string            `json:"subject"`
	Description    string            `json:"description"`
	Fields         map[string]string `json:"fields"`
	Priority       string            `json:"priority"`
}

// createCase files a case. The contact, and the conversation when given,
// must be the tenant's (else 400 naming the field); a conversation must be
// the contact's, and gives the case its channel unless one is sent.
func (a *API) createCase(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var req caseRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.ContactID > 0 {
		if _, err := a.store.Contact(ctx, t.ID, req.ContactID); conversation.IsNotFound(err) {
			return conversation.FieldError("contact_id", "the tenant has no contact %d", req.ContactID)
		} else if err != nil {
			return err
		}
	}
	if req.ConversationID < 0 {
		return conversation.FieldError("conversation_id", "must be a conversation's id")
	}
	if req.ConversationID > 0 {
		conv, err := a.store.Conversation(ctx, t.ID, req.ConversationID)
		if conversation.IsNotFound(err) {
			return conversation.FieldError("conversation_id", "the tenant has no conversation %d", req.ConversationID)
		} else if err != nil {
			return err
		}
		if conv.ContactID != req.ContactID {
			return conversation.FieldError("conversation_id", "conversation %d is not contact %d's", conv.ID, req.ContactID)
		}
		if req.Channel == "" {
			req.Channel = string(conv.Channel)
		}
	}
	if utf8.RuneCountInString(req.Channel) > 50 {
		return conversation.FieldError("channel", "must be at most 50 characters")
	}
	tn, err := a.store.Tenant(ctx, t.ID)
	if err != nil {
		return err
	}
	c, err := a.cfg.Cases.File(ctx, tn, handoff.Filing{
		Type: handoff.CaseType(req.Type), ContactID: req.ContactID, ConversationID: req.ConversationID,
		Channel: req.Channel, Subject: req.Subject, Description: req.Description, Fields: req.Fields, Priority: req.Priority, Actor: actorOf(t),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

// caseHistory serves a case's whole history, oldest first, on one page.
func (a *API) caseHistory(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	evs, err := a.cfg.CaseStore.CaseHistory(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []handoff.CaseEvent{}
	}
	writeJSON(w, http.StatusOK, page[handoff.CaseEvent]{Data: evs})
	return nil
}

// idAndBody reads the id in the path and the JSON body of a POST about
// one case.
func idAndBody[T any](a *API, w http.ResponseWriter, r *http.Request) (int64, T, error) {
	var req T
	id, err := pathID(r)
	if err != nil {
		return 0, req, err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return 0, req, err
	}
	return id, req, decodeJSON(body, &req)
}

// transitionRequest is the body of POST /cases/{id}/transition.
type transitionRequest struct {
	Status string `json:"status"`
	Note   string `json:"note"`
	// Answer, with status resuelto, is the answer the customer is told.
	Answer string `json:"answer"`
}

func (a *API) transitionCase(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, req, err := idAndBody[transitionRequest](a, w, r)
	if err != nil {
		return err
	}
	switch {
	case req.Status == "":
		return conversation.FieldError("status", "is required")
	case utf8.RuneCountInString(req.Note) > maxCaseNote:
		return conversation.FieldError("note", "must be at most %d characters", maxCaseNote)
	}
	var c handoff.Case
	switch {
	case req.Answer == "":
		c, err = a.cfg.Cases.Transition(r.Context(), t.ID, id, handoff.CaseStatus(req.Status), actorOf(t), strings.TrimSpace(req.Note))
	case req.Status != string(handoff.Resuelto):
		return conversation.FieldError("answer", "is the answer of a resolution: only with status resuelto")
	case req.Note != "":
		return conversation.FieldError("note", "a resolution's note is its answer: send answer alone")
	default:
		c, err = a.cfg.Cases.Resolve(r.Context(), t.ID, id, req.Answer, actorOf(t))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// extendRequest is the body of POST /cases/{id}/extend.
type extendRequest struct {
	Days   int    `json:"days"`
	Reason string `json:"reason"`
}

func (a *API) extendCase(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, req, err := idAndBody[extendRequest](a, w, r)
	if err != nil {
		return err
	}
	if utf8.RuneCountInString(req.Reason) > maxCaseNote {
		return conversation.FieldError("reason", "must be at most %d characters", maxCaseNote)
	}
	tn, err := a.store.Tenant(r.Context(), t.ID)
	if err != nil {
		return err
	}
	c, err := a.cfg.Cases.Extend(r.Context(), tn, id, req.Days, req.Reason, actorOf(t))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// caseQuery is the filters of a list or an export, read from the query.
type caseQuery struct {
	filter   handoff.CaseFilter
	radicado string
	loc      *time.Location // the tenant's
}

// parseCaseQuery reads the filters of GET /cases and /cases/export.csv.
// Dates without a time are days in the tenant's time zone: filed_from
// starts with the day, filed_to includes it.
func (a *API) parseCaseQuery(r *http.Request, t tenant) (caseQuery, error) {
	q := r.URL.Query()
	tn, err := a.store.Tenant(r.Context(), t.ID)
	if err != nil {
		return caseQuery{}, err
	}
	cq := caseQuery{loc: handoff.CalendarOf(tn).Location, radicado: strings.TrimSpace(q.Get("radicado"))}
	f := &cq.filter
	for _, s := range listParam(q["status"]) {
		st := handoff.CaseStatus(s)
		if !st.Valid() {
			return cq, conversation.FieldError("status", "unknown status %q", s)
		}
		f.Status = append(f.Status, st)
	}
	for _, s := range listParam(q["type"]) {
		ct := handoff.CaseType(s)
		if !slices.Contains(handoff.CaseTypes, ct) {
			return cq, conversation.FieldError("type", "unknown case type %q", s)
		}
		f.Type = append(f.Type, ct)
	}
	f.Channel = q.Get("channel")
	if f.ContactID, err = queryInt(r, "contact_id"); err != nil {
		return cq, err
	}
	if f.FiledFrom, err = queryDate(q.Get("filed_from"), "filed_from", cq.loc, false); err != nil {
		return cq, err
	}
	if f.FiledTo, err = queryDate(q.Get("filed_to"), "filed_to", cq.loc, true); err != nil {
		return cq, err
	}
	switch q.Get("overdue") {
	case "", "false":
	case "true":
		f.OverdueAt = time.Now()
	default:
		return cq, conversation.FieldError("overdue", "must be true or false")
	}
	if f.AssigneeID, err = queryInt(r, "assignee_id"); err != nil {
		return cq, err
	}
	if f.TeamID, err = queryInt(r, "team_id"); err != nil {
		return cq, err
	}
	switch q.Get("paused") {
	case "", "false":
	case "true":
		f.Paused = true
	default:
		return cq, conversation.FieldError("paused", "must be true or false")
	}
	return cq, nil
}

// listParam splits a repeatable, comma-separated parameter.
func listParam(vals []string) []string {
	var out []string
	for _, v := range vals {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// queryDate reads an RFC 3339 time or a YYYY-MM-DD day in loc; a day
// that ends a range (end) stands for the start of the next day.
func queryDate(s, name string, loc *time.Location, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if ts, err := time.Parse(time.RFC3339, s); err == nil {
		return ts, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, conversation.FieldError(name, "must be an RFC 3339 time or a YYYY-MM-DD date, not %q", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// matches says c passes the filters of f other than the cursor and limit.
func matches(c handoff.Case, f handoff.CaseFilter) bool {
	switch {
	case len(f.Status) > 0 && !slices.Contains(f.Status, c.Status),
		len(f.Type) > 0 && !slices.Contains(f.Type, c.Type),
		f.Channel != "" && c.Channel != f.Channel,
		f.ContactID != 0 && c.ContactID != f.ContactID,
		!f.FiledFrom.IsZero() && c.FiledAt.Before(f.FiledFrom),
		!f.FiledTo.IsZero() && !c.FiledAt.Before(f.FiledTo),
		!f.OverdueAt.IsZero() && (c.Status == handoff.Resuelto || c.Status == handoff.Cerrado || !c.Due.Before(f.OverdueAt) || !c.PausedAt.IsZero()),
		f.AssigneeID != 0 && c.AssigneeID != f.AssigneeID,
		f.TeamID != 0 && c.TeamID != f.TeamID,
		f.Paused && c.PausedAt.IsZero():
		return false
	}
	return true
}

// listCases serves a page of the tenant's cases, newest first. radicado
// finds one case by its filing number: a page of it, if it passes the
// other filters, or of none.
func (a *API) listCases(w http.ResponseWriter, r *http.Request, t tenant) error {
	cq, err := a.parseCaseQuery(r, t)
	if err != nil {
		return err
	}
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	var cur struct {
		BeforeID int64 `json:"before_id"`
		// BeforeFiled goes with BeforeID in a list of a date range, which
		// is in the order of filing.
		BeforeFiled time.Time `json:"before_filed,omitzero"`
	}
	if _, err := decodeCursor(r, &cur); err != nil {
		return err
	}
	if cq.radicado != "" {
		cs := []handoff.Case{}
		c, err := a.cfg.CaseStore.CaseByRadicado(r.Context(), t.ID, cq.radicado)
		switch {
		case err == nil && matches(c, cq.filter) && (cur.BeforeID == 0 || c.ID < cur.BeforeID):
			cs = append(cs, c)
		case err != nil && !conversation.IsNotFound(err):
			return err
		}
		writeJSON(w, http.StatusOK, page[handoff.Case]{Data: cs})
		return nil
	}
	cq.filter.Before, cq.filter.BeforeFiled, cq.filter.Limit = cur.BeforeID, cur.BeforeFiled, limit
	cs, err := a.cfg.CaseStore.ListCases(r.Context(), t.ID, cq.filter)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(cs, limit, func(c handoff.Case) any { return cursorAfter(c, cq.filter) }))
	return nil
}

// exportHeader is the first row of a CSV export.
var exportHeader = []string{"radicado", "type", "status", "channel", "contact_id", "filed_at", "due", "extended_days", "subject", "description"}

// exportCases serves every case that passes the filters, newest first, as
// CSV, at most maxExportRows of them. Times are RFC 3339 in the tenant's
// time zone. Text that a spreadsheet would take for a formula (starting
// with =, +, -, @, tab or carriage return) is prefixed with an apostrophe.
func (a *API) exportCases(w http.ResponseWriter, r *http.Request, t tenant) error {
	// A page's options are mistakes here, not something to ignore.
	for _, name := range []string{"limit", "cursor"} {
		if r.URL.Query().Has(name) {
			return conversation.FieldError(name, "is not an option of the export, which has every matching case")
		}
	}
	cq, err := a.parseCaseQuery(r, t)
	if err != nil {
		return err
	}
	ctx := r.Context()
	f := cq.filter
	f.Limit = exportPage
	var first []handoff.Case
	if cq.radicado != "" {
		c, err := a.cfg.CaseStore.CaseByRadicado(ctx, t.ID, cq.radicado)
		if err != nil && !conversation.IsNotFound(err) {
			return err
		}
		if err == nil && matches(c, f) {
			first = []handoff.Case{c}
		}
	} else if first, err = a.cfg.CaseStore.ListCases(ctx, t.ID, f); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="cases.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.Write(exportHeader)
	rows := 0
	for cs := first; len(cs) > 0 && rows < maxExportRows; {
		for _, c := range cs[:min(len(cs), maxExportRows-rows)] {
			cw.Write([]string{c.Radicado, string(c.Type), string(c.Status), cellText(c.Channel), strconv.FormatInt(c.ContactID, 10),
				c.FiledAt.In(cq.loc).Format(time.RFC3339), c.Due.In(cq.loc).Format(time.RFC3339), strconv.Itoa(c.ExtendedDays),
				cellText(c.Subject), cellText(c.Description)})
			rows++
		}
		cw.Flush()
		if cw.Error() != nil || cq.radicado != "" || len(cs) < f.Limit {
			break
		}
		f.Before, f.BeforeFiled = cs[len(cs)-1].ID, time.Time{}
		if dated(f) {
			f.BeforeFiled = cs[len(cs)-1].FiledAt
		}
		if cs, err = a.cfg.CaseStore.ListCases(ctx, t.ID, f); err != nil {
			// The status is sent: break the response, so that the
			// client does not take a short file for the whole.
			a.logger.ErrorContext(ctx, "export cases", "tenant", t.ID, "rows", rows, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	cw.Flush()
	return nil
}

// cellText keeps a spreadsheet from taking text for a formula.
func cellText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// dated says a list is of a date range, in the order of filing.
func dated(f handoff.CaseFilter) bool { return !f.FiledFrom.IsZero() || !f.FiledTo.IsZero() }

// cursorAfter is the cursor of the page after the case c of a list.
func cursorAfter(c handoff.Case, f handoff.CaseFilter) any {
	if dated(f) {
		return map[string]any{"before_id": c.ID, "before_filed": c.FiledAt}
	}
	return map[string]int64{"before_id": c.ID}
}

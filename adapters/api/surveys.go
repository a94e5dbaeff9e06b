package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/notify/survey"
)

// Surveys is what the API needs of the survey service. *survey.Service
// implements it; it must be safe for concurrent use.
type Surveys interface {
	// Send validates a request and sends its survey as a notification.
	// Returns EINVALID naming the field of a bad request, ENOTFOUND naming
	// contact_id for a contact that is not the tenant's, and ECONFLICT
	// naming idempotency_key when the key was used for another request.
	Send(ctx context.Context, r survey.Request) (survey.Survey, error)
	// Get returns ENOTFOUND unless the survey is the tenant's.
	Get(ctx context.Context, tenantID, id int64) (survey.Survey, error)
	// List returns the tenant's surveys that match f, newest first.
	List(ctx context.Context, tenantID int64, f survey.Filter) ([]survey.Survey, error)
	// Report sums up the tenant's surveys of a kind sent in [from, to).
	// Returns EINVALID naming kind, from or to.
	Report(ctx context.Context, tenantID int64, kind survey.Kind, from, to time.Time, loc *time.Location) (survey.Report, error)
}

var _ Surveys = (*survey.Service)(nil)

// defaultReportDays is the period of a report without from.
const defaultReportDays = 30

// withSurveys serves a survey route, or answers 503 when the server has
// no survey service.
func withSurveys(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Surveys == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no survey service")
		}
		return h(a, w, r, t)
	}
}

// surveyRequest is the body of POST /surveys.
type surveyRequest struct {
	Kind      survey.Kind `json:"kind"`
	ContactID int64       `json:"contact_id"`
	Purpose   string      `json:"purpose"`
	// Topic, ConversationID and CaseID are the survey's subject: at most
	// one.
	Topic          string                     `json:"topic"`
	ConversationID int64                      `json:"conversation_id"`
	CaseID         int64                      `json:"case_id"`
	Data           map[string]string          `json:"data"`
	Channels       []conversation.ChannelKind `json:"channels"`
	ExpiresInHours int                        `json:"expires_in_hours"`
	IdempotencyKey string                     `json:"idempotency_key"`
}

// decodeSurvey parses a survey request of the tenant; the Idempotency-Key
// header, else the body's idempotency_key, is its key. The contact and the
// template are checked by the service.
func decodeSurvey(body []byte, tenantID int64, idempotencyKey string) (survey.Request, error) {
	var req surveyRequest
	if err := decodeJSON(body, &req); err != nil {
		return survey.Request{}, err
	}
	if idempotencyKey == "" {
		idempotencyKey = req.IdempotencyKey
	}
	r := survey.Request{TenantID: tenantID, ContactID: req.ContactID, Kind: req.Kind, Purpose: req.Purpose, Data: req.Data,
		Channels: req.Channels, IdempotencyKey: idempotencyKey, TTL: time.Duration(req.ExpiresInHours) * time.Hour}
	subjects := 0
	for _, set := range []bool{req.Topic != "", req.ConversationID != 0, req.CaseID != 0} {
		if set {
			subjects++
		}
	}
	switch {
	case req.Kind == "":
		return r, conversation.FieldError("kind", "is required: csat or nps")
	case !req.Kind.Valid():
		return r, conversation.FieldError("kind", "must be csat or nps, not %q", req.Kind)
	case req.ContactID <= 0:
		return r, conversation.FieldError("contact_id", "is required: the id of one of the tenant's contacts")
	case req.Purpose != "" && !conversation.ValidPurpose(req.Purpose):
		return r, conversation.FieldError("purpose", "%q is not a purpose: lower-case letters, digits and _, starting with a letter", req.Purpose)
	case subjects > 1:
		return r, conversation.FieldError("topic", "give at most one of topic, conversation_id and case_id")
	case req.ConversationID < 0:
		return r, conversation.FieldError("conversation_id", "must be an id")
	case req.CaseID < 0:
		return r, conversation.FieldError("case_id", "must be an id")
	case req.ExpiresInHours < 0 || req.ExpiresInHours > int(survey.MaxTTL.Hours()):
		return r, conversation.FieldError("expires_in_hours", "must be from 1 to %d hours", int(survey.MaxTTL.Hours()))
	case len(idempotencyKey) > conversation.MaxShortField || !utf8.ValidString(idempotencyKey) || strings.ContainsFunc(idempotencyKey, unicode.IsControl):
		return r, conversation.FieldError("idempotency_key", "must be at most %d bytes of printable UTF-8", conversation.MaxShortField)
	}
	switch {
	case req.Topic != "":
		r.Subject = survey.SubjectTopic + strings.TrimSpace(req.Topic)
	case req.ConversationID != 0:
		r.Subject = survey.SubjectConversation + strconv.FormatInt(req.ConversationID, 10)
	case req.CaseID != 0:
		r.Subject = survey.SubjectCase + strconv.FormatInt(req.CaseID, 10)
	}
	if err := survey.ValidSubject(r.Subject); err != nil {
		return r, conversation.FieldError("topic", "must be at most 200 bytes of printable UTF-8, not blank")
	}
	for name, v := range req.Data {
		if name == "" || strings.ContainsFunc(name, unicode.IsControl) {
			return r, conversation.FieldError("data", "%q is not a variable name", name)
		}
		if strings.ContainsRune(v, 0) {
			return r, conversation.FieldError("data."+name, "must not contain NUL characters")
		}
	}
	for i, k := range req.Channels {
		if !k.Valid() {
			return r, conversation.FieldError(fmt.Sprintf("channels[%d]", i), "unknown channel %q", k)
		}
	}
	return r, nil
}

// createSurvey sends a survey to a contact: 202, since its notification's
// channel and time are decided later by its job. A retry with the same
// idempotency key and body answers the first survey as it stands.
func (a *API) createSurvey(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeSurvey(body, t.ID, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	sv, err := a.cfg.Surveys.Send(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, sv)
	return nil
}

var surveyStatuses = []survey.Status{survey.StatusScheduled, survey.StatusSent, survey.StatusFailed, survey.StatusAnswered}

// surveyKind reads the kind parameter; required says it must be there.
func surveyKind(r *http.Request, required bool) (survey.Kind, error) {
	k := survey.Kind(r.URL.Query().Get("kind"))
	if (k == "" && required) || (k != "" && !k.Valid()) {
		return "", conversation.FieldError("kind", "must be csat or nps")
	}
	return k, nil
}

// surveyPeriod reads from and to: RFC 3339 times or YYYY-MM-DD days in
// UTC, to inclusive.
func surveyPeriod(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	if from, err = queryDate(q.Get("from"), "from", time.UTC, false); err != nil {
		return
	}
	if to, err = queryDate(q.Get("to"), "to", time.UTC, true); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = conversation.FieldError("to", "must be after from")
	}
	return
}

// surveyFilter reads the query of GET /surveys.
func surveyFilter(r *http.Request) (survey.Filter, error) {
	limit, err := limitOf(r)
	if err != nil {
		return survey.Filter{}, err
	}
	f := survey.Filter{Limit: limit, Status: survey.Status(r.URL.Query().Get("status"))}
	if f.Kind, err = surveyKind(r, false); err != nil {
		return f, err
	}
	if f.ContactID, err = queryInt(r, "contact_id"); err != nil {
		return f, err
	}
	if f.Status != "" && !slices.Contains(surveyStatuses, f.Status) {
		return f, conversation.FieldError("status", "must be scheduled, sent, failed or answered")
	}
	if f.From, f.To, err = surveyPeriod(r); err != nil {
		return f, err
	}
	var cur struct {
		BeforeID int64 `json:"before_id"`
	}
	if _, err := decodeCursor(r, &cur); err != nil {
		return f, err
	}
	f.BeforeID = cur.BeforeID
	return f, nil
}

// listSurveys serves a page of the tenant's surveys, newest first.
func (a *API) listSurveys(w http.ResponseWriter, r *http.Request, t tenant) error {
	f, err := surveyFilter(r)
	if err != nil {
		return err
	}
	list, err := a.cfg.Surveys.List(r.Context(), t.ID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(list, f.Limit, func(s survey.Survey) any { return map[string]int64{"before_id": s.ID} }))
	return nil
}

// surveyReport serves the report of a kind's surveys sent in a period:
// by default the last 30 days up to now.
func (a *API) surveyReport(w http.ResponseWriter, r *http.Request, t tenant) error {
	kind, err := surveyKind(r, true)
	if err != nil {
		return err
	}
	from, to, err := surveyPeriod(r)
	if err != nil {
		return err
	}
	if to.IsZero() {
		to = time.Now().UTC()
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -defaultReportDays)
	}
	tn, err := a.store.Tenant(r.Context(), t.ID)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(tn.TimeZone)
	if err != nil {
		loc = time.UTC // a tenant's zone is checked when saved; UTC when empty
	}
	rep, err := a.cfg.Surveys.Report(r.Context(), t.ID, kind, from, to, loc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

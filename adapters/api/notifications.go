package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/notify"
)

// Notifications is what the API needs of the notification service.
// *notify.Service implements it; it must be safe for concurrent use.
type Notifications interface {
	// Notify validates a request and schedules its notification. Returns
	// EINVALID naming the field of a bad request (also a purpose without a
	// template, or a required variable missing), ENOTFOUND naming
	// contact_id for a contact that is not the tenant's, and ECONFLICT
	// naming idempotency_key when the key was used for another request. A
	// retry with the same key and request returns the first notification.
	Notify(ctx context.Context, r notify.Request) (notify.Notification, error)
	// Get returns ENOTFOUND unless the notification is the tenant's.
	Get(ctx context.Context, tenantID, id int64) (notify.Notification, error)
	// List returns the tenant's notifications that match f, newest first.
	List(ctx context.Context, tenantID int64, f notify.Filter) ([]notify.Notification, error)
	// Policy returns the tenant's policy, notify.DefaultPolicy when it
	// stored none.
	Policy(ctx context.Context, tenantID int64) (notify.Policy, error)
	// PutPolicy validates and stores the tenant's policy. Returns EINVALID
	// naming the bad field.
	PutPolicy(ctx context.Context, tenantID int64, p notify.Policy) error
}

var _ Notifications = (*notify.Service)(nil)

// maxSendAfter is how far ahead a notification may be delayed.
const maxSendAfter = 366 * 24 * time.Hour

// withNotifications serves a notification route, or answers 503 when the
// server has no notification service.
func withNotifications(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Notifications == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no notification service")
		}
		return h(a, w, r, t)
	}
}

// notificationRequest is the body of POST /notifications. SendAfter is
// read by decodeNotification, to name the field when it is no time.
type notificationRequest struct {
	ContactID int64                      `json:"contact_id"`
	Purpose   string                     `json:"purpose"`
	Data      map[string]string          `json:"data"`
	Channels  []conversation.ChannelKind `json:"channels"`
	SendAfter string                     `json:"send_after"`
}

// decodeNotification parses a notification request of the tenant; the
// Idempotency-Key header is its key. now bounds send_after. The contact,
// the template and the limits of the data are checked by the service.
func decodeNotification(body []byte, tenantID int64, idempotencyKey string, now time.Time) (notify.Request, error) {
	var req notificationRequest
	if err := decodeJSON(body, &req); err != nil {
		return notify.Request{}, err
	}
	r := notify.Request{TenantID: tenantID, ContactID: req.ContactID, Purpose: req.Purpose, Data: req.Data,
		Channels: req.Channels, IdempotencyKey: idempotencyKey}
	switch {
	case req.ContactID <= 0:
		return r, conversation.FieldError("contact_id", "is required: the id of one of the tenant's contacts")
	case req.Purpose == "":
		return r, conversation.FieldError("purpose", "is required: the purpose of one of the tenant's templates")
	case !conversation.ValidPurpose(req.Purpose):
		return r, conversation.FieldError("purpose", "%q is not a purpose: lower-case letters, digits and _, starting with a letter", req.Purpose)
	case len(idempotencyKey) > conversation.MaxShortField || !utf8.ValidString(idempotencyKey) || strings.ContainsFunc(idempotencyKey, unicode.IsControl):
		// Named as the send route names its Idempotency-Key.
		return r, conversation.FieldError("idempotency_key", "must be at most %d bytes of printable UTF-8", conversation.MaxShortField)
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
	if req.SendAfter != "" {
		at, err := time.Parse(time.RFC3339, req.SendAfter)
		if err != nil {
			return r, conversation.FieldError("send_after", "%q is not an RFC 3339 time such as 2026-03-01T09:00:00-05:00", req.SendAfter)
		}
		if at.After(now.Add(maxSendAfter)) {
			return r, conversation.FieldError("send_after", "must be within %d days", maxSendAfter/(24*time.Hour))
		}
		r.SendAfter = at
	}
	return r, nil
}

// createNotification schedules a notification: 202, since its channel and
// time are decided later by its job. A retry with the same Idempotency-Key
// and body answers the first notification as it stands.
func (a *API) createNotification(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeNotification(body, t.ID, r.Header.Get("Idempotency-Key"), time.Now())
	if err != nil {
		return err
	}
	n, err := a.cfg.Notifications.Notify(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, n)
	return nil
}

var notificationStatuses = []notify.Status{notify.StatusScheduled, notify.StatusSent, notify.StatusUndeliverable, notify.StatusSuppressed}

// notificationFilter reads the query of GET /notifications.
func notificationFilter(r *http.Request) (notify.Filter, error) {
	limit, err := limitOf(r)
	if err != nil {
		return notify.Filter{}, err
	}
	q := r.URL.Query()
	f := notify.Filter{Limit: limit, Status: notify.Status(q.Get("status")), Purpose: q.Get("purpose")}
	if f.ContactID, err = queryInt(r, "contact_id"); err != nil {
		return f, err
	}
	if f.Status != "" && !slices.Contains(notificationStatuses, f.Status) {
		return f, conversation.FieldError("status", "must be scheduled, sent, undeliverable or suppressed")
	}
	if f.Purpose != "" && !conversation.ValidPurpose(f.Purpose) {
		return f, conversation.FieldError("purpose", "%q is not a purpose", f.Purpose)
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

// listNotifications serves a page of the tenant's notifications, newest
// first.
func (a *API) listNotifications(w http.ResponseWriter, r *http.Request, t tenant) error {
	f, err := notificationFilter(r)
	if err != nil {
		return err
	}
	ns, err := a.cfg.Notifications.List(r.Context(), t.ID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(ns, f.Limit, func(n notify.Notification) any { return map[string]int64{"before_id": n.ID} }))
	return nil
}

func (a *API) getNotificationPolicy(w http.ResponseWriter, r *http.Request, t tenant) error {
	p, err := a.cfg.Notifications.Policy(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// decodePolicy parses and validates a tenant's notification policy.
func decodePolicy(body []byte) (notify.Policy, error) {
	var p notify.Policy
	if err := decodeJSON(body, &p); err != nil {
		return notify.Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return notify.Policy{}, err
	}
	return p, nil
}

// putNotificationPolicy replaces the tenant's policy with a whole new one,
// and answers it as stored.
func (a *API) putNotificationPolicy(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	p, err := decodePolicy(body)
	if err != nil {
		return err
	}
	if err := a.cfg.Notifications.PutPolicy(r.Context(), t.ID, p); err != nil {
		return err
	}
	if p, err = a.cfg.Notifications.Policy(r.Context(), t.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

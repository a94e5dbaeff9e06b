package api

import (
	"context"
	"net/http"

	"conversa/conversation"
	"conversa/reports"
)

// Analytics is what the API needs of the analytics export's destinations.
// *analytics.Service (adapters/analytics) implements it; it must be safe
// for concurrent use.
type Analytics interface {
	// Create validates and stores a destination; the result carries its
	// secret (a webhook destination without one gets a new one). Returns
	// EINVALID naming the bad field (a URL on a private address unless
	// allowed).
	Create(ctx context.Context, d reports.Destination) (reports.Destination, error)
	// Update stores a destination's URL, events and disabled flag.
	// Returns EINVALID naming the bad field, ENOTFOUND unless it is the
	// tenant's.
	Update(ctx context.Context, d reports.Destination) (reports.Destination, error)
	// Get and Delete return ENOTFOUND unless the destination is the
	// tenant's; Get and List leave the secret out.
	Get(ctx context.Context, tenantID, id int64) (reports.Destination, error)
	List(ctx context.Context, tenantID int64) ([]reports.Destination, error)
	Delete(ctx context.Context, tenantID, id int64) error
	// RotateSecret sets the destination's secret (a new random one for a
	// webhook destination when secret is empty) and returns the
	// destination with it. Returns EINVALID for a bad secret, ENOTFOUND
	// unless it is the tenant's.
	RotateSecret(ctx context.Context, tenantID, id int64, secret string) (reports.Destination, error)
}

// withAnalytics serves an analytics route, or answers 503 when the server
// has no analytics export.
func withAnalytics(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Analytics == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no analytics export")
		}
		return h(a, w, r, t)
	}
}

// destinationRequest is the body of POST and PATCH
// /analytics/destinations; PATCH keeps the fields it leaves out and
// changes neither kind nor secret (rotate-secret does).
type destinationRequest struct {
	Kind     *string   `json:"kind"`
	URL      *string   `json:"url"`
	Secret   *string   `json:"secret"`
	Events   *[]string `json:"events"`
	Disabled *bool     `json:"disabled"`
}

// maxDestinationEvents bounds the event names a request lists.
const maxDestinationEvents = 32

// decodeDestination reads the body of POST (create) or PATCH of an
// analytics destination. Returns EINVALID naming the field of bad input;
// the service checks the values.
func decodeDestination(body []byte, create bool) (destinationRequest, error) {
	var req destinationRequest
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	switch {
	case create && req.Kind == nil:
		return req, conversation.FieldError("kind", "is required: one of segment, webhook")
	case create && req.URL == nil:
		return req, conversation.FieldError("url", "is required")
	case !create && req.Kind != nil:
		return req, conversation.FieldError("kind", "cannot change: create a new destination")
	case !create && req.Secret != nil:
		return req, conversation.FieldError("secret", "cannot change here: POST .../rotate-secret")
	case req.Events != nil && len(*req.Events) > maxDestinationEvents:
		return req, conversation.FieldError("events", "at most %d event names", maxDestinationEvents)
	}
	return req, nil
}

// apply sets the fields the request carries on d.
func (req destinationRequest) apply(d *reports.Destination) {
	if req.Kind != nil {
		d.Kind = *req.Kind
	}
	if req.URL != nil {
		d.URL = *req.URL
	}
	if req.Secret != nil {
		d.Secret = *req.Secret
	}
	if req.Events != nil {
		d.Events = *req.Events
	}
	if req.Disabled != nil {
		d.Disabled = *req.Disabled
	}
}

func (a *API) createDestination(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeDestination(body, true)
	if err != nil {
		return err
	}
	d := reports.Destination{TenantID: t.ID}
	req.apply(&d)
	if d, err = a.cfg.Analytics.Create(r.Context(), d); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (a *API) listDestinations(w http.ResponseWriter, r *http.Request, t tenant) error {
	ds, err := a.cfg.Analytics.List(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(ds, 0, nil))
	return nil
}

func (a *API) updateDestination(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeDestination(body, false)
	if err != nil {
		return err
	}
	d, err := a.cfg.Analytics.Get(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	req.apply(&d)
	if d, err = a.cfg.Analytics.Update(r.Context(), d); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (a *API) deleteDestination(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Analytics.Delete(r.Context(), t.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateDestinationSecret takes an optional body {"secret": "..."}: a
// Segment destination's new write key; a webhook destination without one
// gets a new random secret.
func (a *API) rotateDestinationSecret(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var req struct {
		Secret string `json:"secret"`
	}
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
	}
	d, err := a.cfg.Analytics.RotateSecret(r.Context(), t.ID, id, req.Secret)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

package api

import (
	"context"
	"net/http"

	"conversa/conversation"
	"conversa/notify/webhook"
)

// Webhooks is what the API needs of the webhook service.
// *webhook.Service implements it; it must be safe for concurrent use.
type Webhooks interface {
	// Create validates and stores an endpoint, with a new secret unless
	// it has one. Returns EINVALID naming the bad field (a URL on a
	// private address unless allowed).
	Create(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error)
	// Update stores an endpoint's URL, events and disabled flag. Returns
	// EINVALID naming the bad field, ENOTFOUND unless it is the tenant's.
	Update(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error)
	// Get and Delete return ENOTFOUND unless the endpoint is the
	// tenant's; Get and List leave the secret out.
	Get(ctx context.Context, tenantID, id int64) (webhook.Endpoint, error)
	List(ctx context.Context, tenantID int64) ([]webhook.Endpoint, error)
	Delete(ctx context.Context, tenantID, id int64) error
	// RotateSecret gives the endpoint a new secret and returns the
	// endpoint with it. Returns ENOTFOUND unless it is the tenant's.
	RotateSecret(ctx context.Context, tenantID, id int64) (webhook.Endpoint, error)
}

var _ Webhooks = (*webhook.Service)(nil)

// withWebhooks serves a webhook route, or answers 503 when the server has
// no webhook service.
func withWebhooks(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Webhooks == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no webhook service")
		}
		return h(a, w, r, t)
	}
}

// endpointRequest is the body of POST and PATCH /webhooks; PATCH keeps
// the fields it leaves out.
type endpointRequest struct {
	URL      *string   `json:"url"`
	Secret   string    `json:"secret"`
	Events   *[]string `json:"events"`
	Disabled *bool     `json:"disabled"`
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var req endpointRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.URL == nil {
		return conversation.FieldError("url", "is required")
	}
	e := webhook.Endpoint{TenantID: t.ID, URL: *req.URL, Secret: req.Secret}
	if req.Events != nil {
		e.Events = *req.Events
	}
	if req.Disabled != nil {
		e.Disabled = *req.Disabled
	}
	e, err = a.cfg.Webhooks.Create(r.Context(), e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e)
	return nil
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, t tenant) error {
	eps, err := a.cfg.Webhooks.List(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(eps, 0, nil))
	return nil
}

func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var req endpointRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.Secret != "" {
		return conversation.FieldError("secret", "cannot change: create a new endpoint")
	}
	e, err := a.cfg.Webhooks.Get(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	if req.URL != nil {
		e.URL = *req.URL
	}
	if req.Events != nil {
		e.Events = *req.Events
	}
	if req.Disabled != nil {
		e.Disabled = *req.Disabled
	}
	if e, err = a.cfg.Webhooks.Update(r.Context(), e); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Webhooks.Delete(r.Context(), t.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

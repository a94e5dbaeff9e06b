package api

import (
	"context"
	"fmt"
	"net/http"

	"conversa/conversation"
	"conversa/notify/prefs"
)

// Preferences reads and changes contacts' communication preferences.
// *prefs.Service implements it.
type Preferences interface {
	// Get returns ENOTFOUND unless the contact is the tenant's.
	Get(ctx context.Context, tenantID, contactID int64) (prefs.Preferences, error)
	// Update returns ENOTFOUND unless the contact is the tenant's, and
	// EINVALID naming the field of a channel the contact cannot be
	// reached on or a bad purpose.
	Update(ctx context.Context, tenantID, contactID int64, ch prefs.Change) (prefs.Preferences, error)
}

func withPreferences(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Preferences == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no preference service")
		}
		return h(a, w, r, t)
	}
}

// getPreferences serves a contact's preferences: the preferred channel,
// the channels they are reachable on, the consent state of each and the
// time zone of their quiet hours.
func (a *API) getPreferences(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := a.cfg.Preferences.Get(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// preferencesRequest is the body of PUT /contacts/{id}/preferences. An
// absent preferred_channel is left alone; "" clears it.
type preferencesRequest struct {
	PreferredChannel *conversation.ChannelKind `json:"preferred_channel"`
	Consent          []consentUpdate           `json:"consent"`
}

// consentUpdate is an opt-out or opt-in: of every channel the contact is
// reachable on, or of one; of every message, or of some purposes.
// OptedOut is required, as in POST /contacts/{id}/consent.
type consentUpdate struct {
	Channel  conversation.ChannelKind `json:"channel"`
	Purposes []string                 `json:"purposes"`
	OptedOut *bool                    `json:"opted_out"`
}

// maxConsentUpdates bounds the consent updates of one request.
const maxConsentUpdates = 20

// putPreferences changes a contact's preferred channel and records
// opt-outs and opt-ins in the consent ledger with source api:<key id>,
// and answers with the preferences after the change.
func (a *API) putPreferences(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	ch, err := decodePreferences(body)
	if err != nil {
		return err
	}
	ch.Source = actorOf(t)
	p, err := a.cfg.Preferences.Update(r.Context(), t.ID, id, ch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// decodePreferences reads the body of PUT /contacts/{id}/preferences into
// a change, without its source. Returns EINVALID naming the field of bad
// input; the service checks channels and purposes against the contact.
func decodePreferences(body []byte) (prefs.Change, error) {
	var req preferencesRequest
	if err := decodeJSON(body, &req); err != nil {
		return prefs.Change{}, err
	}
	if req.PreferredChannel == nil && len(req.Consent) == 0 {
		return prefs.Change{}, conversation.FieldError("preferred_channel", "set preferred_channel or consent")
	}
	if len(req.Consent) > maxConsentUpdates {
		return prefs.Change{}, conversation.FieldError("consent", "at most %d updates", maxConsentUpdates)
	}
	ch := prefs.Change{PreferredChannel: req.PreferredChannel}
	for i, u := range req.Consent {
		if u.OptedOut == nil {
			return prefs.Change{}, conversation.FieldError(fmt.Sprintf("consent[%d].opted_out", i), "is required")
		}
		if len(u.Purposes) > maxConsentUpdates {
			return prefs.Change{}, conversation.FieldError(fmt.Sprintf("consent[%d].purposes", i), "at most %d purposes", maxConsentUpdates)
		}
		ch.Consent = append(ch.Consent, prefs.ConsentUpdate{Channel: u.Channel, Purposes: u.Purposes, OptedOut: *u.OptedOut})
	}
	return ch, nil
}

package api

import (
	"context"
	"maps"
	"net/http"
	"time"

	"conversa/channels"
	"conversa/conversation"
)

// AccountValidator checks a channel account's settings with the channel of
// its kind. *channels.Registry implements it.
type AccountValidator interface {
	// ValidateAccount checks a and normalizes its settings. Returns
	// EINVALID naming the bad field (settings.<name> for a setting), also
	// when the server has no channel of a's kind. It must be safe for
	// concurrent use.
	ValidateAccount(a *conversation.ChannelAccount) error
}

var _ AccountValidator = (*channels.Registry)(nil)

// secretMask stands in the channel view for the value of a secret setting.
// Sent back in a PATCH, it keeps the stored value.
const secretMask = "(set)"

// withChannels serves a route that writes channel accounts, or answers 503
// when the server cannot validate them.
func withChannels(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Channels == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server cannot validate channel accounts")
		}
		return h(a, w, r, t)
	}
}

// channelView is what the API shows of a channel account: its settings with
// the values of secret ones masked, since credentials never leave the
// server.
type channelView struct {
	ID        int64                    `json:"id"`
	Kind      conversation.ChannelKind `json:"kind"`
	Key       string                   `json:"key"`
	Name      string                   `json:"name"`
	Settings  map[string]string        `json:"settings"`
	Disabled  bool                     `json:"disabled"`
	CreatedAt time.Time                `json:"created_at"`
	// Warnings say what went wrong after the account was stored, such as
	// a provider refusing its webhook.
	Warnings []string `json:"warnings,omitempty"`
}

// saved tells the account's provider about it, and returns its view with
// what went wrong as a warning.
func (a *API) saved(ctx context.Context, acct conversation.ChannelAccount) channelView {
	v := viewOf(acct)
	if a.cfg.AccountSaved == nil {
		return v
	}
	if err := a.cfg.AccountSaved(ctx, acct); err != nil {
		a.logger.Warn("channel account stored, but its provider was not told", "account", acct.ID, "kind", acct.Kind, "err", err)
		v.Warnings = append(v.Warnings, err.Error())
	}
	return v
}

// viewOf returns the view of c.
func viewOf(c conversation.ChannelAccount) channelView {
	settings := make(map[string]string, len(c.Settings))
	for name, v := range c.Settings {
		if conversation.IsSecretSetting(name) && v != "" {
			v = secretMask
		}
		settings[name] = v
	}
	return channelView{ID: c.ID, Kind: c.Kind, Key: c.Key, Name: c.Name, Settings: settings, Disabled: c.Disabled, CreatedAt: c.CreatedAt}
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request, t tenant) error {
	accts, err := a.store.ListChannelAccounts(r.Context(), t.ID)
	if err != nil {
		return err
	}
	views := make([]channelView, len(accts))
	for i, c := range accts {
		views[i] = viewOf(c)
	}
	writeJSON(w, http.StatusOK, page[channelView]{Data: views})
	return nil
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := a.store.ChannelAccount(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOf(c))
	return nil
}

// channelRequest is the body of POST /channels.
type channelRequest struct {
	Kind     conversation.ChannelKind `json:"kind"`
	Key      string                   `json:"key"`
	Name     string                   `json:"name"`
	Settings map[string]string        `json:"settings"`
	Disabled bool                     `json:"disabled"`
}

// decodeChannel parses a new account of the tenant and checks it with the
// domain's rules; the channel's own rules are checked by the caller.
func decodeChannel(body []byte, tenantID int64) (conversation.ChannelAccount, error) {
	var req channelRequest
	if err := decodeJSON(body, &req); err != nil {
		return conversation.ChannelAccount{}, err
	}
	for name, v := range req.Settings {
		// A client that copied a view must not store the mask as a
		// credential.
		if conversation.IsSecretSetting(name) && v == secretMask {
			return conversation.ChannelAccount{}, conversation.FieldError("settings."+name, "%q stands for a stored value; send the value itself", secretMask)
		}
		if v == "" {
			delete(req.Settings, name)
		}
	}
	acct := conversation.ChannelAccount{TenantID: tenantID, Kind: req.Kind, Key: req.Key, Name: req.Name, Settings: req.Settings, Disabled: req.Disabled}
	return acct, acct.Validate()
}

// createChannel stores a new channel account of the tenant, validated by
// its channel.
func (a *API) createChannel(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	acct, err := decodeChannel(body, t.ID)
	if err != nil {
		return err
	}
	if err := a.cfg.Channels.ValidateAccount(&acct); err != nil {
		return err
	}
	acct, err = a.store.CreateChannelAccount(r.Context(), acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.saved(r.Context(), acct))
	return nil
}

// channelPatch is the body of PATCH /channels/{id}. Absent fields keep
// their values.
type channelPatch struct {
	Name     *string           `json:"name"`
	Settings map[string]string `json:"settings"`
	Disabled *bool             `json:"disabled"`
}

// mergeSettings returns stored with patch applied: a value replaces the
// stored one, "" removes the setting, and the mask of a secret setting
// keeps its stored value. stored is left alone.
func mergeSettings(stored, patch map[string]string) (map[string]string, error) {
	out := maps.Clone(stored)
	if out == nil {
		out = map[string]string{}
	}
	for name, v := range patch {
		switch {
		case v == "":
			delete(out, name)
		case v == secretMask && conversation.IsSecretSetting(name):
			if stored[name] == "" {
				return nil, conversation.FieldError("settings."+name, "%q stands for a stored value, but none is stored; send the value itself", secretMask)
			}
		default:
			out[name] = v
		}
	}
	return out, nil
}

// updateChannel changes the name, settings or disabled flag of one of the
// tenant's accounts. The kind and key never change: they name the account
// on its channel.
func (a *API) updateChannel(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, p, err := idAndBody[channelPatch](a, w, r)
	if err != nil {
		return err
	}
	acct, err := a.store.ChannelAccount(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	if p.Name != nil {
		acct.Name = *p.Name
	}
	if p.Disabled != nil {
		acct.Disabled = *p.Disabled
	}
	if acct.Settings, err = mergeSettings(acct.Settings, p.Settings); err != nil {
		return err
	}
	if err := acct.Validate(); err != nil {
		return err
	}
	if err := a.cfg.Channels.ValidateAccount(&acct); err != nil {
		return err
	}
	acct, err = a.store.UpdateChannelAccount(r.Context(), acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.saved(r.Context(), acct))
	return nil
}

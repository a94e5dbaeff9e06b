package api

import (
	"net/http"

	"conversa/conversation"
)

// listConsent serves a page of a contact's consent changes, newest first.
func (a *API) listConsent(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	var cur struct {
		BeforeID int64 `json:"before_id"`
	}
	if _, err := decodeCursor(r, &cur); err != nil {
		return err
	}
	if _, err := a.store.Contact(r.Context(), t.ID, id); err != nil {
		return err
	}
	cs, err := a.store.ListConsent(r.Context(), t.ID, conversation.ConsentFilter{ContactID: id, BeforeID: cur.BeforeID, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(cs, limit, func(c conversation.ConsentChange) any { return map[string]int64{"before_id": c.ID} }))
	return nil
}

// consentRequest is the body of POST /contacts/{id}/consent. OptedOut is
// required: a forgotten field must not opt a contact back in. Purpose,
// when set, narrows the change to the notifications of one purpose.
type consentRequest struct {
	ChannelID int64  `json:"channel_id"`
	OptedOut  *bool  `json:"opted_out"`
	Purpose   string `json:"purpose"`
}

// recordConsent records that a contact opted out of, or back into,
// messages from one of the tenant's channel accounts (or only the
// notifications of one purpose from it), at the contact's address on that
// account's channel.
func (a *API) recordConsent(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, req, err := idAndBody[consentRequest](a, w, r)
	if err != nil {
		return err
	}
	switch {
	case req.ChannelID <= 0:
		return conversation.FieldError("channel_id", "is required")
	case req.OptedOut == nil:
		return conversation.FieldError("opted_out", "is required")
	case req.Purpose != "" && !conversation.ValidPurpose(req.Purpose):
		return conversation.FieldError("purpose", "%q is not a purpose: lower-case letters, digits and _, starting with a letter", req.Purpose)
	}
	ctx := r.Context()
	contact, err := a.store.Contact(ctx, t.ID, id)
	if err != nil {
		return err
	}
	acct, err := a.store.ChannelAccount(ctx, t.ID, req.ChannelID)
	if conversation.IsNotFound(err) {
		return conversation.FieldError("channel_id", "the tenant has no channel %d", req.ChannelID)
	} else if err != nil {
		return err
	}
	to, ok := contact.IdentityOn(acct.Kind)
	if !ok {
		return conversation.FieldError("channel_id", "contact %d has no %s address for channel %d", contact.ID, acct.Kind, acct.ID)
	}
	c, err := a.svc.RecordConsent(ctx, conversation.ConsentChange{
		TenantID: t.ID, AccountID: acct.ID, ContactID: contact.ID, Channel: acct.Kind, Address: to.Address,
		OptedOut: *req.OptedOut, Purpose: req.Purpose, Source: actorOf(t),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

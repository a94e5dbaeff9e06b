package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"conversa/conversation"
)

// page is the envelope of every list: NextCursor, when set, fetches the
// next page.
type page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newPage[T any](items []T, limit int, next func(last T) any) page[T] {
	p := page[T]{Data: items}
	if p.Data == nil {
		p.Data = []T{}
	}
	if len(items) == limit && limit > 0 {
		b, _ := json.Marshal(next(items[len(items)-1]))
		p.NextCursor = base64.RawURLEncoding.EncodeToString(b)
	}
	return p
}

// decodeCursor reads the cursor query parameter into dst; an absent cursor
// leaves dst alone and reports false.
func decodeCursor(r *http.Request, dst any) (bool, error) {
	raw := r.URL.Query().Get("cursor")
	if raw == "" {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || json.Unmarshal(b, dst) != nil {
		return false, conversation.FieldError("cursor", "is not a cursor from a previous page")
	}
	return true, nil
}

func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, conversation.FieldError(name, "must be a non-negative integer")
	}
	return n, nil
}

func limitOf(r *http.Request) (int, error) {
	n, err := queryInt(r, "limit")
	if err != nil {
		return 0, err
	}
	if n > conversation.MaxLimit {
		return 0, conversation.FieldError("limit", "must be at most %d", conversation.MaxLimit)
	}
	return conversation.ClampLimit(int(n)), nil
}

func pathID(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		return 0, conversation.Errorf(conversation.ENOTFOUND, "%q is not an id", r.PathValue("id"))
	}
	return n, nil
}

// getByID serves GET of one thing by the id in the path, read with get,
// a method of Store such as Store.Contact.
func getByID[T any](get func(Store, context.Context, int64, int64) (T, error)) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return readByID(func(a *API, ctx context.Context, tenantID, id int64) (T, error) {
		return get(a.store, ctx, tenantID, id)
	})
}

// readByID serves GET of a thing by the id in the path, read by get.
func readByID[T any](get func(a *API, ctx context.Context, tenantID, id int64) (T, error)) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		v, err := get(a, r.Context(), t.ID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

func (a *API) listContacts(w http.ResponseWriter, r *http.Request, t tenant) error {
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
	cs, err := a.store.ListContacts(r.Context(), t.ID, conversation.ContactFilter{BeforeID: cur.BeforeID, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(cs, limit, func(c conversation.Contact) any { return map[string]int64{"before_id": c.ID} }))
	return nil
}

// contactPatch is the body of PATCH /contacts/{id}.
type contactPatch struct {
	Name       *string           `json:"name"`
	Language   *string           `json:"language"`
	Attributes map[string]string `json:"attributes"`
}

// decodeContactPatch parses and validates a contact update.
func decodeContactPatch(body []byte) (conversation.ContactUpdate, error) {
	var p contactPatch
	if err := decodeJSON(body, &p); err != nil {
		return conversation.ContactUpdate{}, err
	}
	if p.Name != nil {
		name, err := conversation.NormalizeName("name", *p.Name)
		if err != nil {
			return conversation.ContactUpdate{}, err
		}
		p.Name = &name
	}
	if p.Language != nil {
		lang, err := conversation.NormalizeLanguage("language", *p.Language)
		if err != nil {
			return conversation.ContactUpdate{}, err
		}
		p.Language = &lang
	}
	if err := conversation.ValidateAttributes(p.Attributes); err != nil {
		return conversation.ContactUpdate{}, err
	}
	return conversation.ContactUpdate{Name: p.Name, Language: p.Language, Attributes: p.Attributes}, nil
}

func (a *API) updateContact(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	u, err := decodeContactPatch(body)
	if err != nil {
		return err
	}
	c, err := a.store.UpdateContact(r.Context(), t.ID, id, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) listConversations(w http.ResponseWriter, r *http.Request, t tenant) error {
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	f := conversation.ConversationFilter{Limit: limit, State: conversation.State(r.URL.Query().Get("state"))}
	if f.State != "" && !f.State.Valid() {
		return conversation.FieldError("state", "must be bot, queued, agent or closed")
	}
	if f.ContactID, err = queryInt(r, "contact_id"); err != nil {
		return err
	}
	var cur conversation.ConversationCursor
	if ok, err := decodeCursor(r, &cur); err != nil {
		return err
	} else if ok {
		f.Before = &cur
	}
	cs, err := a.store.ListConversations(r.Context(), t.ID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(cs, limit, func(c conversation.Conversation) any {
		return conversation.ConversationCursor{LastMessageAt: c.LastMessageAt, ID: c.ID}
	}))
	return nil
}

// listMessages pages through a conversation, oldest first (order=asc, the
// default) or newest first (order=desc).
func (a *API) listMessages(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	desc := false
	switch r.URL.Query().Get("order") {
	case "", "asc":
	case "desc":
		desc = true
	default:
		return conversation.FieldError("order", "must be asc or desc")
	}
	if _, err := a.store.Conversation(r.Context(), t.ID, id); err != nil {
		return err
	}
	f := conversation.MessageFilter{ConversationID: id, Limit: limit, Newest: desc}
	var cur struct {
		Seq int64 `json:"seq"`
	}
	if ok, err := decodeCursor(r, &cur); err != nil {
		return err
	} else if ok {
		pos := &conversation.MessagePos{ConversationID: id, Seq: cur.Seq}
		if desc {
			f.Before = pos
		} else {
			f.After = pos
		}
	}
	ms, err := a.store.ListMessages(r.Context(), t.ID, f)
	if err != nil {
		return err
	}
	if desc {
		slices.Reverse(ms)
	}
	a.linkMedia(ms)
	writeJSON(w, http.StatusOK, newPage(ms, limit, func(m conversation.Message) any { return map[string]int64{"seq": m.Seq} }))
	return nil
}

// sendRequest is the body of POST /conversations/{id}/messages. Text is
// shorthand for one text part.
type sendRequest struct {
	Text      string               `json:"text"`
	Parts     []conversation.Part  `json:"parts"`
	Author    *conversation.Author `json:"author"`
	AccountID int64                `json:"account_id"`
	SendAt    time.Time            `json:"send_at"`
}

// decodeSend parses and validates a send request into an Outbound.
func decodeSend(body []byte, tenantID, conversationID int64, idempotencyKey string) (conversation.Outbound, error) {
	var req sendRequest
	if err := decodeJSON(body, &req); err != nil {
		return conversation.Outbound{}, err
	}
	if (req.Text == "") == (len(req.Parts) == 0) {
		return conversation.Outbound{}, conversation.FieldError("text", "send either text or parts")
	}
	parts := req.Parts
	if req.Text != "" {
		parts = []conversation.Part{conversation.TextPart(req.Text)}
	}
	author := conversation.Author{Kind: conversation.AuthorAgent}
	if req.Author != nil {
		author = *req.Author
	}
	out := conversation.Outbound{
		TenantID: tenantID, ConversationID: conversationID, Author: author, Parts: parts,
		AccountID: req.AccountID, IdempotencyKey: idempotencyKey, SendAt: req.SendAt,
	}
	if err := out.Validate(); err != nil {
		if conversation.ErrorField(err) == "parts[0].text" && req.Text != "" {
			return conversation.Outbound{}, &conversation.Error{Code: conversation.ErrorCode(err), Field: "text", Message: conversation.ErrorMessage(err)}
		}
		return conversation.Outbound{}, err
	}
	return out, nil
}

func (a *API) sendMessage(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	out, err := decodeSend(body, t.ID, id, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	res, err := a.svc.Send(r.Context(), out)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res[0].Duplicate {
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, res[0].Message)
	return nil
}

func (a *API) assign(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var req struct {
		AgentID int64 `json:"agent_id"`
	}
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	c, err := a.svc.Assign(r.Context(), t.ID, id, req.AgentID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// transition serves a state change that takes no body, made by do, a
// method of Service such as Service.Close.
func transition(do func(Service, context.Context, int64, int64) (conversation.Conversation, error)) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		c, err := do(a.svc, r.Context(), t.ID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	}
}

func (a *API) typing(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var req struct {
		On     bool   `json:"on"`
		Author string `json:"author_name"`
	}
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	// The name is shown to the contact, like an author's name.
	name, err := conversation.NormalizeName("author_name", req.Author)
	if err != nil {
		return err
	}
	if err := a.svc.Typing(r.Context(), t.ID, id, conversation.Author{Kind: conversation.AuthorAgent, Name: name}, req.On); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) searchMessages(w http.ResponseWriter, r *http.Request, t tenant) error {
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	f := conversation.SearchFilter{Query: r.URL.Query().Get("q"), Limit: limit}
	if len(f.Query) > 500 {
		return conversation.FieldError("q", "must be at most 500 bytes")
	}
	if f.ConversationID, err = queryInt(r, "conversation_id"); err != nil {
		return err
	}
	var cur struct {
		BeforeID int64 `json:"before_id"`
	}
	if _, err := decodeCursor(r, &cur); err != nil {
		return err
	}
	f.BeforeID = cur.BeforeID
	ms, err := a.store.SearchMessages(r.Context(), t.ID, f)
	if err != nil {
		return err
	}
	a.linkMedia(ms)
	writeJSON(w, http.StatusOK, newPage(ms, limit, func(m conversation.Message) any { return map[string]int64{"before_id": m.ID} }))
	return nil
}

// inboundRequest is the body of POST /inbound: a message a contact wrote on
// one of the tenant's own (api) channels.
type inboundRequest struct {
	ChannelID  int64               `json:"channel_id"`
	From       string              `json:"from"`
	FromName   string              `json:"from_name"`
	ID         string              `json:"id"`
	Text       string              `json:"text"`
	Parts      []conversation.Part `json:"parts"`
	Language   string              `json:"language"`
	ReceivedAt time.Time           `json:"received_at"`
}

// maxClockSkew is how far in the future an inbound message's received_at
// may be, for clocks that run a little ahead.
const maxClockSkew = 5 * time.Minute

// decodeInbound parses an inbound request; the channel is checked by the
// caller.
func decodeInbound(body []byte) (inboundRequest, error) {
	var req inboundRequest
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	if req.ChannelID <= 0 {
		return req, conversation.FieldError("channel_id", "is required")
	}
	if (req.Text == "") == (len(req.Parts) == 0) {
		return req, conversation.FieldError("text", "send either text or parts")
	}
	if req.Text != "" {
		req.Parts = []conversation.Part{conversation.TextPart(req.Text)}
	}
	// A message from the future would stay the conversation's latest and
	// pin it to the top of the lists.
	if req.ReceivedAt.After(time.Now().Add(maxClockSkew)) {
		return req, conversation.FieldError("received_at", "is in the future")
	}
	in := req.toInbound("x")
	if err := in.Validate(); err != nil {
		// Name the fields as the client sent them.
		switch field := conversation.ErrorField(err); {
		case field == "provider_id":
			return req, &conversation.Error{Code: conversation.ErrorCode(err), Field: "id", Message: conversation.ErrorMessage(err)}
		case field == "parts[0].text" && req.Text != "":
			return req, &conversation.Error{Code: conversation.ErrorCode(err), Field: "text", Message: conversation.ErrorMessage(err)}
		}
		return req, err
	}
	return req, nil
}

func (req inboundRequest) toInbound(account string) conversation.Inbound {
	return conversation.Inbound{
		Channel: conversation.ChannelAPI, Account: account, From: req.From, FromName: req.FromName,
		ProviderID: req.ID, Parts: req.Parts, Language: req.Language, ReceivedAt: req.ReceivedAt,
	}
}

// inboundResponse is the answer to POST /inbound. Message is absent for a
// duplicate that was recognised without reading the store.
type inboundResponse struct {
	Duplicate    bool                       `json:"duplicate"`
	Message      *conversation.Message      `json:"message,omitempty"`
	Conversation *conversation.Conversation `json:"conversation,omitempty"`
}

func (a *API) inbound(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeInbound(body)
	if err != nil {
		return err
	}
	acct, err := a.svc.AccountByID(r.Context(), t.ID, req.ChannelID)
	if err != nil {
		return err
	}
	if acct.Kind != conversation.ChannelAPI {
		return conversation.FieldError("channel_id", "channel %d is a %s channel; only api channels take messages here", acct.ID, acct.Kind)
	}
	res, err := a.svc.Ingest(r.Context(), req.toInbound(acct.Key))
	if err != nil {
		return err
	}
	if res.Duplicate {
		// Ingest names a duplicate by its id at most: show the stored
		// message, not an empty one.
		resp := inboundResponse{Duplicate: true}
		if res.Message.ID != 0 {
			m, err := a.message(r.Context(), t.ID, res.Message.ID)
			if err != nil {
				return err
			}
			resp.Message = &m
		}
		writeJSON(w, http.StatusOK, resp)
		return nil
	}
	m := a.linked(res.Message)
	writeJSON(w, http.StatusCreated, inboundResponse{Message: &m, Conversation: &res.Conversation})
	return nil
}

// message reads a message, with links to its stored files.
func (a *API) message(ctx context.Context, tenantID, id int64) (conversation.Message, error) {
	m, err := a.store.Message(ctx, tenantID, id)
	return a.linked(m), err
}

// linked returns m with links to its stored files.
func (a *API) linked(m conversation.Message) conversation.Message {
	ms := []conversation.Message{m}
	a.linkMedia(ms)
	return ms[0]
}

// linkMedia sets the URL of each file of the messages that is in the media
// store to a signed link that expires, leaving the stored messages alone.
func (a *API) linkMedia(ms []conversation.Message) {
	if a.cfg.Media == nil {
		return
	}
	for j := range ms {
		m := &ms[j]
		linked := false
		for i, p := range m.Parts {
			if p.Media == nil || p.Media.Key == "" {
				continue
			}
			if !linked {
				m.Parts, linked = slices.Clone(m.Parts), true
			}
			media := *p.Media
			media.URL = a.cfg.Media.URL(m.TenantID, media, a.cfg.MediaLinkTTL)
			m.Parts[i].Media = &media
		}
	}
}

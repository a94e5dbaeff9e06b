package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// CaseWork is what the API needs of the case service for the work of
// agents on a case; part of Cases.
type CaseWork interface {
	// Assign assigns a case to an agent and/or a team (0 for none).
	// Returns EINVALID naming agent_id or team_id, ENOTFOUND when the case
	// is not the tenant's.
	Assign(ctx context.Context, tenantID, id, agentID, teamID int64, actor string) (handoff.Case, error)
	// AddNote records an internal note. Returns EINVALID naming body.
	AddNote(ctx context.Context, tenantID, id int64, author, body string) (handoff.CaseEvent, error)
	// Pause and Resume stop and restart a case's term. Return ECONFLICT
	// when the case is (not) paused or answered.
	Pause(ctx context.Context, tenantID, id int64, reason, actor string) (handoff.Case, error)
	Resume(ctx context.Context, tenant conversation.Tenant, id int64, actor string) (handoff.Case, error)
	// Attach stores a file and attaches it to a case. Returns EINVALID
	// naming file, ETOOLARGE over the limit, EUNAVAILABLE without a media
	// store.
	Attach(ctx context.Context, tenantID, id int64, up handoff.Upload, actor string) (handoff.CaseAttachment, error)
}

// assignRequest is the body of POST /cases/{id}/assign.
type assignRequest struct {
	AgentID int64 `json:"agent_id"`
	TeamID  int64 `json:"team_id"`
}

func (a *API) assignCase(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, req, err := idAndBody[assignRequest](a, w, r)
	if err != nil {
		return err
	}
	c, err := a.cfg.Cases.Assign(r.Context(), t.ID, id, req.AgentID, req.TeamID, actorOf(t))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// noteRequest is the body of POST /cases/{id}/notes.
type noteRequest struct {
	Body string `json:"body"`
	// Author names the agent who writes it; the key's actor when empty.
	Author string `json:"author"`
}

func (a *API) addCaseNote(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, req, err := idAndBody[noteRequest](a, w, r)
	if err != nil {
		return err
	}
	author := actorOf(t)
	if req.Author = strings.TrimSpace(req.Author); req.Author != "" {
		if len(req.Author) > 100 || strings.ContainsFunc(req.Author, func(r rune) bool { return r < ' ' }) {
			return conversation.FieldError("author", "must be at most 100 printable characters")
		}
		author += " for " + req.Author
	}
	ev, err := a.cfg.Cases.AddNote(r.Context(), t.ID, id, author, req.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ev)
	return nil
}

// caseNotes serves a case's internal notes, oldest first, on one page.
func (a *API) caseNotes(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	evs, err := a.cfg.CaseStore.CaseHistory(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	notes := []handoff.CaseEvent{}
	for _, e := range evs {
		if e.Kind == "internal_note" {
			notes = append(notes, e)
		}
	}
	writeJSON(w, http.StatusOK, page[handoff.CaseEvent]{Data: notes})
	return nil
}

// pauseRequest is the body of POST /cases/{id}/pause.
type pauseRequest struct {
	Reason string `json:"reason"`
}

func (a *API) pauseCase(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, req, err := idAndBody[pauseRequest](a, w, r)
	if err != nil {
		return err
	}
	c, err := a.cfg.Cases.Pause(r.Context(), t.ID, id, req.Reason, actorOf(t))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) resumeCase(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	tn, err := a.store.Tenant(r.Context(), t.ID)
	if err != nil {
		return err
	}
	c, err := a.cfg.Cases.Resume(r.Context(), tn, id, actorOf(t))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// multipartSlack is what a multipart body may carry beyond its file:
// boundaries, part headers, and a few small fields.
const multipartSlack = 64 << 10

// uploadCaseAttachment stores the part "file" of a multipart/form-data
// body as an attachment of the case. The body may be at most the
// attachment limit plus multipartSlack; the file's content type is sniffed
// by the case service and its name cleaned.
func (a *API) uploadCaseAttachment(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return conversation.Errorf(conversation.EINVALID, "the body must be multipart/form-data with the file in the part \"file\"")
	}
	if r.ContentLength > a.cfg.MaxUploadBytes+multipartSlack {
		return &conversation.Error{Code: conversation.ETOOLARGE, Field: "file", Message: "the file is larger than the limit of " + strconv.FormatInt(a.cfg.MaxUploadBytes, 10) + " bytes"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxUploadBytes+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return conversation.Errorf(conversation.EINVALID, "read the multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return conversation.FieldError("file", "the body has no part \"file\"")
		}
		if err != nil {
			return uploadError(err)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		att, err := a.cfg.Cases.Attach(r.Context(), t.ID, id, handoff.Upload{Filename: part.FileName(), Body: part}, actorOf(t))
		if err != nil {
			return uploadError(err)
		}
		writeJSON(w, http.StatusCreated, a.attachmentView(att))
		return nil
	}
}

// uploadError is a failed read of an upload as the client should see it.
func uploadError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &conversation.Error{Code: conversation.ETOOLARGE, Field: "file", Message: "the request body is larger than the limit"}
	}
	var ce *conversation.Error
	if errors.As(err, &ce) {
		return err
	}
	return conversation.Errorf(conversation.EINVALID, "read the multipart body: %v", err)
}

// attachment is an attachment as the API shows it, with a signed,
// expiring link to the file.
type attachment struct {
	ID          int64     `json:"id,omitempty"`
	MessageID   int64     `json:"message_id,omitempty"`
	ContentType string    `json:"content_type"`
	Filename    string    `json:"filename,omitempty"`
	Size        int64     `json:"size,omitempty"`
	AddedBy     string    `json:"added_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	URL         string    `json:"url,omitempty"`
}

func (a *API) attachmentView(at handoff.CaseAttachment) attachment {
	v := attachment{ID: at.ID, ContentType: at.ContentType, Filename: at.Filename, Size: at.Size, AddedBy: at.AddedBy, CreatedAt: at.CreatedAt}
	if a.cfg.Media != nil {
		v.URL = a.cfg.Media.URL(at.TenantID, conversation.Media{Key: at.Key, ContentType: at.ContentType, Filename: at.Filename}, a.cfg.MediaLinkTTL)
	}
	return v
}

// maxCaseMessages bounds the messages of a case's conversation read for
// their files.
const maxCaseMessages = 500

// caseAttachments serves the files of a case: those attached to it, and
// those of the customer's messages in the conversation it was filed in
// (the latest maxCaseMessages of them), each with a signed, expiring link.
func (a *API) caseAttachments(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, err := a.cfg.CaseStore.Case(ctx, t.ID, id)
	if err != nil {
		return err
	}
	out := struct {
		Data     []attachment `json:"data"`
		Messages []attachment `json:"messages"`
	}{Data: []attachment{}, Messages: []attachment{}}
	atts, err := a.cfg.CaseStore.CaseAttachments(ctx, t.ID, id)
	if err != nil {
		return err
	}
	for _, at := range atts {
		out.Data = append(out.Data, a.attachmentView(at))
	}
	if c.ConversationID != 0 {
		ms, err := a.store.ListMessages(ctx, t.ID, conversation.MessageFilter{ConversationID: c.ConversationID, Newest: true, Limit: maxCaseMessages})
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Direction != conversation.DirectionIn {
				continue
			}
			for _, p := range m.Parts {
				if p.Media == nil || p.Media.Key == "" {
					continue
				}
				v := attachment{MessageID: m.ID, ContentType: p.Media.ContentType, Filename: p.Media.Filename, Size: p.Media.Size, CreatedAt: m.CreatedAt}
				if a.cfg.Media != nil {
					v.URL = a.cfg.Media.URL(t.ID, *p.Media, a.cfg.MediaLinkTTL)
				}
				out.Messages = append(out.Messages, v)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

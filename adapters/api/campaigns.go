package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"conversa/conversation"
	"conversa/notify/campaign"
)

// Campaigns is what the API needs of the campaign service.
// *campaign.Service implements it; it must be safe for concurrent use.
type Campaigns interface {
	// CreateFromSegment plans and starts a campaign to a segment. Returns
	// EINVALID naming a bad field.
	CreateFromSegment(ctx context.Context, tenantID int64, spec campaign.Spec) (campaign.Campaign, error)
	// CreateFromCSV plans and starts a campaign to the contacts of a CSV
	// stream. Returns EINVALID naming a bad field or header ("csv").
	CreateFromCSV(ctx context.Context, tenantID int64, spec campaign.Spec, csv io.Reader) (campaign.Campaign, error)
	// Get, Pause, Resume, Cancel, Report and Recipients return ENOTFOUND
	// unless the campaign is the tenant's; Pause, Resume and Cancel
	// ECONFLICT when the campaign is not in a state to move.
	Get(ctx context.Context, tenantID, id int64) (campaign.Campaign, error)
	List(ctx context.Context, tenantID, beforeID int64, limit int) ([]campaign.Campaign, error)
	Pause(ctx context.Context, tenantID, id int64) (campaign.Campaign, error)
	Resume(ctx context.Context, tenantID, id int64) (campaign.Campaign, error)
	Cancel(ctx context.Context, tenantID, id int64) (campaign.Campaign, error)
	Report(ctx context.Context, tenantID, id int64) (campaign.Report, error)
	Recipients(ctx context.Context, tenantID, id int64, f campaign.RecipientFilter) ([]campaign.Recipient, error)
}

var _ Campaigns = (*campaign.Service)(nil)

// withCampaigns serves a campaign route, or answers 503 when the server
// has no campaign service.
func withCampaigns(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Campaigns == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no campaign service")
		}
		return h(a, w, r, t)
	}
}

// createCampaign creates a campaign: from a segment, with a JSON body (a
// campaign.Spec); or from a CSV upload, with a multipart/form-data body
// whose first part, "campaign", is the JSON spec and whose second part,
// "contacts", is the CSV, read as a stream. 201 with the campaign, running.
func (a *API) createCampaign(w http.ResponseWriter, r *http.Request, t tenant) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		body, err := a.readBody(w, r)
		if err != nil {
			return err
		}
		var spec campaign.Spec
		if err := decodeJSON(body, &spec); err != nil {
			return err
		}
		c, err := a.cfg.Campaigns.CreateFromSegment(r.Context(), t.ID, spec)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, c)
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxCSVBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return conversation.Errorf(conversation.EINVALID, "read the multipart body: %v", err)
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "campaign" {
		return conversation.FieldError("campaign", "the first part must be \"campaign\", the campaign as JSON")
	}
	body, err := io.ReadAll(io.LimitReader(part, a.cfg.MaxBodyBytes+1))
	if err != nil {
		return tooLargeOr(err, a.cfg.MaxCSVBytes)
	}
	if int64(len(body)) > a.cfg.MaxBodyBytes {
		return &conversation.Error{Code: conversation.ETOOLARGE, Field: "campaign", Message: fmt.Sprintf("the campaign part is larger than %d bytes", a.cfg.MaxBodyBytes)}
	}
	var spec campaign.Spec
	if err := decodeJSON(body, &spec); err != nil {
		return err
	}
	if spec.Segment != nil {
		return conversation.FieldError("segment", "a campaign from a CSV upload has no segment")
	}
	if part, err = mr.NextPart(); err != nil || part.FormName() != "contacts" {
		return conversation.FieldError("contacts", "the second part must be \"contacts\", the CSV file")
	}
	c, err := a.cfg.Campaigns.CreateFromCSV(r.Context(), t.ID, spec, part)
	if err != nil {
		return tooLargeOr(err, a.cfg.MaxCSVBytes)
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

// tooLargeOr turns a body over the limit into ETOOLARGE.
func tooLargeOr(err error, limit int64) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &conversation.Error{Code: conversation.ETOOLARGE, Message: fmt.Sprintf("the request body is larger than the limit of %d bytes", limit)}
	}
	return err
}

func (a *API) listCampaigns(w http.ResponseWriter, r *http.Request, t tenant) error {
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
	cs, err := a.cfg.Campaigns.List(r.Context(), t.ID, cur.BeforeID, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(cs, limit, func(c campaign.Campaign) any { return map[string]int64{"before_id": c.ID} }))
	return nil
}

// moveCampaign serves pause, resume and cancel.
func moveCampaign(move func(Campaigns, context.Context, int64, int64) (campaign.Campaign, error)) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return withCampaigns(func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		c, err := move(a.cfg.Campaigns, r.Context(), t.ID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	})
}

var recipientStates = []string{campaign.StatePlanned, campaign.StateSkipped, campaign.StateQueued, campaign.StateError, campaign.StateCancelled}

// listRecipients serves a page of a campaign's recipients with their
// status, in order.
func (a *API) listRecipients(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	f := campaign.RecipientFilter{Limit: limit, State: r.URL.Query().Get("state")}
	if f.State != "" && !slices.Contains(recipientStates, f.State) {
		return conversation.FieldError("state", "must be one of %s", strings.Join(recipientStates, ", "))
	}
	var cur struct {
		AfterID int64 `json:"after_id"`
	}
	if _, err := decodeCursor(r, &cur); err != nil {
		return err
	}
	f.AfterID = cur.AfterID
	rs, err := a.cfg.Campaigns.Recipients(r.Context(), t.ID, id, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(rs, limit, func(r campaign.Recipient) any { return map[string]int64{"after_id": r.ID} }))
	return nil
}

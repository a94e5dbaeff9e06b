package api

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"

	"conversa/conversation"
	"conversa/templates"
)

// Templates is what the API needs of the template service to save, read
// and preview a tenant's message templates. *templates.Service implements
// it; it must be safe for concurrent use.
type Templates interface {
	// Save checks the definition file named name and stores it as the
	// tenant's next version of purpose, unless it is the latest version
	// already (created is then false). Returns EINVALID wrapping
	// templates.Problems for a bad definition, EINVALID naming "purpose"
	// when the definition is of another purpose, and stores nothing then.
	Save(ctx context.Context, tenantID int64, purpose, name string, src []byte) (v templates.Version, t *templates.Template, created bool, err error)
	// Template returns the tenant's latest version of a purpose, compiled.
	// Returns ENOTFOUND when there is none, or it was deleted.
	Template(ctx context.Context, tenantID int64, purpose string) (*templates.Template, templates.Version, error)
	// TemplateVersion returns one version of a purpose, compiled, also of
	// a deleted purpose. Returns ENOTFOUND when it does not exist.
	TemplateVersion(ctx context.Context, tenantID int64, purpose string, number int64) (*templates.Template, templates.Version, error)
}

// TemplateStore is what the API lists and deletes of templates.
// templates.Store implements it.
type TemplateStore interface {
	// ListTemplates returns the latest version of each purpose that is not
	// deleted, in purpose order, without sources.
	ListTemplates(ctx context.Context, tenantID int64) ([]templates.Version, error)
	// TemplateVersions lists a purpose's versions, newest first, without
	// sources. Returns ENOTFOUND when the tenant never saved the purpose.
	TemplateVersions(ctx context.Context, tenantID int64, purpose string) ([]templates.Version, error)
	// DeleteTemplate hides a purpose and keeps its versions. Returns
	// ENOTFOUND when the tenant has no such purpose, or deleted it already.
	DeleteTemplate(ctx context.Context, tenantID int64, purpose string) error
}

var (
	_ Templates     = (*templates.Service)(nil)
	_ TemplateStore = templates.Store(nil)
)

// withTemplates serves a template route, or answers 503 when the server has
// no template service.
func withTemplates(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Templates == nil || a.cfg.TemplateStore == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no template service")
		}
		return h(a, w, r, t)
	}
}

// templateSourceRequest is the JSON body of PUT /templates/{purpose}.
type templateSourceRequest struct {
	Source *string `json:"source"`
}

// templateBodyIsJSON tells from a Content-Type whether the body of PUT
// /templates/{purpose} is JSON (also when none is sent) or the raw YAML
// file.
func templateBodyIsJSON(ct string) (bool, error) {
	if ct == "" {
		return true, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return false, conversation.Errorf(conversation.EINVALID, "unreadable Content-Type %q", ct)
	case mt == "application/json":
		return true, nil
	case mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" || mt == "text/plain":
		return false, nil
	}
	return false, conversation.Errorf(conversation.EINVALID, "the body must be application/yaml, text/yaml, text/plain or application/json, not %s", ct)
}

// decodeTemplateSource returns the definition file a body of PUT
// /templates/{purpose} holds: the body itself, or the source of a JSON
// body. The file's content is for templates.Parse to judge; a file over
// templates.MaxSourceSize is ETOOLARGE naming "source".
func decodeTemplateSource(body []byte, isJSON bool) ([]byte, error) {
	src := body
	if isJSON {
		var req templateSourceRequest
		if err := decodeJSON(body, &req); err != nil {
			return nil, err
		}
		if req.Source == nil {
			return nil, conversation.FieldError("source", "is required: the template's YAML definition")
		}
		src = []byte(*req.Source)
	}
	if len(src) > templates.MaxSourceSize {
		return nil, &conversation.Error{Code: conversation.ETOOLARGE, Field: "source",
			Message: fmt.Sprintf("the definition is %d bytes; at most %d are allowed", len(src), templates.MaxSourceSize)}
	}
	return src, nil
}

// saveTemplate stores a definition as the next version of the purpose in
// the path: 201 when it is new, 200 when it is the latest version already.
func (a *API) saveTemplate(w http.ResponseWriter, r *http.Request, t tenant) error {
	isJSON, err := templateBodyIsJSON(r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	// A JSON string may take several bytes per byte of the file: read
	// within the limit of definitions, then bound the file itself.
	body, err := a.readLimited(w, r, a.cfg.MaxBotBodyBytes)
	if err != nil {
		return err
	}
	src, err := decodeTemplateSource(body, isJSON)
	if err != nil {
		return err
	}
	purpose := r.PathValue("purpose")
	v, _, created, err := a.cfg.Templates.Save(r.Context(), t.ID, purpose, purpose+".yaml", src)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, v)
	return nil
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request, t tenant) error {
	vs, err := a.cfg.TemplateStore.ListTemplates(r.Context(), t.ID)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []templates.Version{}
	}
	// A tenant has a few dozen purposes at most: one page holds them.
	writeJSON(w, http.StatusOK, page[templates.Version]{Data: vs})
	return nil
}

// templateDetail is one version of a template with its file and what the
// file defines.
type templateDetail struct {
	templates.Version
	// Source is the definition file as it was saved.
	Source     string               `json:"source"`
	Definition templates.Definition `json:"definition"`
}

func detailOf(tp *templates.Template, v templates.Version) templateDetail {
	return templateDetail{Version: v, Source: string(v.Source), Definition: tp.Definition}
}

func (a *API) getTemplate(w http.ResponseWriter, r *http.Request, t tenant) error {
	tp, v, err := a.cfg.Templates.Template(r.Context(), t.ID, r.PathValue("purpose"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, detailOf(tp, v))
	return nil
}

func (a *API) listTemplateVersions(w http.ResponseWriter, r *http.Request, t tenant) error {
	vs, err := a.cfg.TemplateStore.TemplateVersions(r.Context(), t.ID, r.PathValue("purpose"))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []templates.Version{}
	}
	writeJSON(w, http.StatusOK, page[templates.Version]{Data: vs})
	return nil
}

func (a *API) getTemplateVersion(w http.ResponseWriter, r *http.Request, t tenant) error {
	n, err := strconv.ParseInt(r.PathValue("number"), 10, 64)
	if err != nil || n <= 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "%q is not a template version number", r.PathValue("number"))
	}
	tp, v, err := a.cfg.Templates.TemplateVersion(r.Context(), t.ID, r.PathValue("purpose"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, detailOf(tp, v))
	return nil
}

func (a *API) deleteTemplate(w http.ResponseWriter, r *http.Request, t tenant) error {
	if err := a.cfg.TemplateStore.DeleteTemplate(r.Context(), t.ID, r.PathValue("purpose")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// previewRequest is the body of POST /templates/{purpose}/preview.
type previewRequest struct {
	Channel  conversation.ChannelKind `json:"channel"`
	Language string                   `json:"language"`
	Data     map[string]string        `json:"data"`
}

// decodePreview parses the body of POST /templates/{purpose}/preview into
// a request without its fallback language.
func decodePreview(body []byte) (templates.Request, error) {
	var req previewRequest
	if err := decodeJSON(body, &req); err != nil {
		return templates.Request{}, err
	}
	if req.Channel == "" {
		return templates.Request{}, conversation.FieldError("channel", "is required")
	}
	if !req.Channel.Valid() {
		return templates.Request{}, conversation.FieldError("channel", "%q is not a channel", req.Channel)
	}
	if req.Language != "" && templates.CanonicalLanguage(req.Language) == "" {
		return templates.Request{}, conversation.FieldError("language", "%q is not a language tag such as es, en or es-CO", req.Language)
	}
	return templates.Request{Channel: req.Channel, Language: req.Language, Data: req.Data}, nil
}

// previewTemplate renders the latest version of a template with its
// samples, which the request's data overrides. A template without a
// variant for the channel and language, and a text that breaks the
// channel's rules with this data, are 422: the request is well formed,
// but this template cannot serve it.
func (a *API) previewTemplate(w http.ResponseWriter, r *http.Request, t tenant) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodePreview(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	tn, err := a.store.Tenant(ctx, t.ID)
	if err != nil {
		return err
	}
	req.Fallback = tn.Language
	tp, v, err := a.cfg.Templates.Template(ctx, t.ID, r.PathValue("purpose"))
	if err != nil {
		return err
	}
	out, err := tp.Preview(req)
	switch conversation.ErrorCode(err) {
	case "":
	case conversation.ENOTFOUND:
		// The template exists: no variant of it serves the request.
		field := "language"
		if !slices.ContainsFunc(tp.Variants, func(vr templates.Variant) bool {
			return vr.Channel == req.Channel || vr.Channel == templates.AnyChannel
		}) {
			field = "channel"
		}
		return &statusError{status: http.StatusUnprocessableEntity, err: &conversation.Error{
			Code: conversation.EINVALID, Field: field, Message: conversation.ErrorMessage(err), Err: err}}
	case conversation.ETOOLARGE:
		return &statusError{status: http.StatusUnprocessableEntity, err: err}
	default:
		return err
	}
	out.Version = v.Number
	writeJSON(w, http.StatusOK, out)
	return nil
}

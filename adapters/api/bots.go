package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"unicode/utf8"

	"conversa/bot"
	"conversa/bot/nlu"
	"conversa/conversation"
	"conversa/templates"
)

// Bots is what the API needs of the dialogue engine to train and activate a
// tenant's bot versions. *bot.Engine implements it.
type Bots interface {
	// Train checks, trains and stores a definition as the tenant's next
	// version, inactive. A bad definition returns an EINVALID error
	// wrapping bot.DefinitionErrors and stores nothing.
	Train(ctx context.Context, tenant conversation.Tenant, src bot.Source, note string) (bot.Version, *bot.Training, error)
	// Activate makes a stored version the tenant's bot. Returns ENOTFOUND
	// when it does not exist.
	Activate(ctx context.Context, tenant conversation.Tenant, number int64) error
	// Rollback activates the version active before the current one and
	// returns its number. Returns ECONFLICT when there is none.
	Rollback(ctx context.Context, tenant conversation.Tenant) (int64, error)
	// Evaluate checks, trains and cross-validates a definition, storing
	// nothing. A bad definition returns an EINVALID error wrapping
	// bot.DefinitionErrors.
	Evaluate(ctx context.Context, tenant conversation.Tenant, src bot.Source, folds int) (*nlu.Report, error)
}

// BotStore is what the API reads of trained bots. bot.Store implements it.
type BotStore interface {
	BotVersion(ctx context.Context, tenantID, number int64) (bot.Version, error)
	BotVersions(ctx context.Context, tenantID int64) ([]bot.Version, error)
}

// Limits of the bot routes.
const (
	// yamlFile names the definition sent as one raw YAML body.
	yamlFile = "bot.yaml"
	// maxNote bounds a version's note, in bytes.
	maxNote = 1000
	// Folds of an evaluation: the default and the bounds.
	defaultFolds, minFolds, maxFolds = 5, 2, 10
)

// fileName is what a definition file may be called.
var fileName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.ya?ml$`)

// withBots serves a bot route, or answers 503 when the server has no bot
// engine.
func withBots(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Bots == nil || a.cfg.BotStore == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no bot engine")
		}
		return h(a, w, r, t)
	}
}

// definition is a decoded body of POST /bot/versions or /bot/eval.
type definition struct {
	src      bot.Source
	note     string
	activate bool
	folds    int
}

// trainRequest is the JSON body of POST /bot/versions.
type trainRequest struct {
	Files    map[string]string `json:"files"`
	Note     string            `json:"note"`
	Activate bool              `json:"activate"`
}

// evalRequest is the JSON body of POST /bot/eval.
type evalRequest struct {
	Files map[string]string `json:"files"`
	Folds *int              `json:"folds"`
}

// readDefinition reads the body of the train (eval false) or eval route:
// raw YAML, the one file bot.yaml, with its options in the query; or JSON,
// with the files and options in the body.
func (a *API) readDefinition(w http.ResponseWriter, r *http.Request, eval bool) (definition, error) {
	isYAML := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return definition{}, conversation.Errorf(conversation.EINVALID, "unreadable Content-Type %q", ct)
		case mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml":
			isYAML = true
		case mt != "application/json":
			return definition{}, conversation.Errorf(conversation.EINVALID, "the body must be application/json or application/yaml, not %s", ct)
		}
	}
	body, err := a.readLimited(w, r, a.cfg.MaxBotBodyBytes)
	if err != nil {
		return definition{}, err
	}
	q := r.URL.Query()
	// Options of the other route are mistakes, not something to ignore.
	others := []string{"folds"}
	if eval {
		others = []string{"note", "activate"}
	}
	for _, name := range others {
		if q.Has(name) {
			return definition{}, conversation.FieldError(name, "is not an option of this route")
		}
	}
	var d definition
	if isYAML {
		d, err = decodeDefinitionYAML(body, q)
	} else {
		d, err = decodeDefinitionJSON(body, q, eval)
	}
	if err != nil {
		return d, err
	}
	if len(d.note) > maxNote {
		return d, conversation.FieldError("note", "must be at most %d bytes", maxNote)
	}
	if !utf8.ValidString(d.note) {
		return d, conversation.FieldError("note", "is not valid UTF-8")
	}
	if eval && (d.folds < minFolds || d.folds > maxFolds) {
		return d, conversation.FieldError("folds", "must be between %d and %d", minFolds, maxFolds)
	}
	return d, nil
}

// decodeDefinitionJSON parses a JSON body, strictly: a trainRequest, or
// an evalRequest when eval.
func decodeDefinitionJSON(body []byte, q url.Values, eval bool) (definition, error) {
	d := definition{folds: defaultFolds}
	for _, name := range []string{"note", "activate", "folds"} {
		if q.Has(name) {
			return d, conversation.FieldError(name, "goes in the JSON body; the query takes it only with a YAML body")
		}
	}
	var files map[string]string
	if eval {
		var req evalRequest
		if err := decodeJSON(body, &req); err != nil {
			return d, err
		}
		files = req.Files
		if req.Folds != nil {
			d.folds = *req.Folds
		}
	} else {
		var req trainRequest
		if err := decodeJSON(body, &req); err != nil {
			return d, err
		}
		files, d.note, d.activate = req.Files, req.Note, req.Activate
	}
	if len(files) == 0 {
		return d, conversation.FieldError("files", "is required: send at least one definition file")
	}
	d.src = make(bot.Source, len(files))
	for name, content := range files {
		if !fileName.MatchString(name) {
			return d, conversation.FieldError("files", "%q is not a file name: use letters, digits, _ . and -, ending in .yaml or .yml", name)
		}
		d.src[name] = []byte(content)
	}
	return d, nil
}

// decodeDefinitionYAML takes a YAML body as the file bot.yaml, and the
// options from the query.
func decodeDefinitionYAML(body []byte, q url.Values) (definition, error) {
	d := definition{src: bot.Source{yamlFile: body}, note: q.Get("note"), folds: defaultFolds}
	if !utf8.Valid(body) {
		return d, conversation.Errorf(conversation.EINVALID, "the request body is not valid UTF-8")
	}
	var err error
	if s := q.Get("activate"); s != "" {
		if d.activate, err = strconv.ParseBool(s); err != nil {
			return d, conversation.FieldError("activate", "must be true or false")
		}
	}
	if s := q.Get("folds"); s != "" {
		if d.folds, err = strconv.Atoi(s); err != nil {
			return d, conversation.FieldError("folds", "must be an integer")
		}
	}
	return d, nil
}

// training waits for a free training slot under ctx and returns its
// release: training is CPU-bound, and a node runs a bounded number at once.
func (a *API) training(ctx context.Context) (func(), error) {
	select {
	case a.trainings <- struct{}{}:
		return func() { <-a.trainings }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to train: %w", ctx.Err())
	}
}

// trainResponse is the answer to POST /bot/versions.
type trainResponse struct {
	Version bot.Version `json:"version"`
	Report  *nlu.Report `json:"report"`
	Active  bool        `json:"active"`
}

// trainBot trains a definition and stores it as the tenant's next version,
// and activates it when asked to.
func (a *API) trainBot(w http.ResponseWriter, r *http.Request, t tenant) error {
	d, err := a.readDefinition(w, r, false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	tn, err := a.store.Tenant(ctx, t.ID)
	if err != nil {
		return err
	}
	release, err := a.training(ctx)
	if err != nil {
		return err
	}
	v, tr, err := a.cfg.Bots.Train(ctx, tn, d.src, d.note)
	release()
	if err != nil {
		return trainingError(err)
	}
	if d.activate {
		if err := a.cfg.Bots.Activate(ctx, tn, v.Number); err != nil {
			return fmt.Errorf("activate bot version %d, just stored: %w", v.Number, err)
		}
		if v, err = a.cfg.BotStore.BotVersion(ctx, t.ID, v.Number); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, trainResponse{Version: v, Report: tr.Report, Active: v.Active})
	return nil
}

// evalBot trains a definition and cross-validates it, storing nothing.
func (a *API) evalBot(w http.ResponseWriter, r *http.Request, t tenant) error {
	d, err := a.readDefinition(w, r, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	tn, err := a.store.Tenant(ctx, t.ID)
	if err != nil {
		return err
	}
	release, err := a.training(ctx)
	if err != nil {
		return err
	}
	defer release()
	rep, err := a.cfg.Bots.Evaluate(ctx, tn, d.src, d.folds)
	if err != nil {
		return trainingError(err)
	}
	writeJSON(w, http.StatusOK, struct {
		Report *nlu.Report `json:"report"`
	}{rep})
	return nil
}

// trainingError gives the errors of training that the client must fix
// the EINVALID code: the problems of a bad definition (bot.Train returns
// them bare), kept reachable for problemsOf, and examples the classifier
// cannot learn from.
func trainingError(err error) error {
	if conversation.ErrorCode(err) != conversation.EINTERNAL {
		return err
	}
	if de, ok := errors.AsType[bot.DefinitionErrors](err); ok && len(de) > 0 {
		return &conversation.Error{Code: conversation.EINVALID, Message: de.Error(), Field: de[0].Field, Err: de}
	}
	if errors.Is(err, nlu.ErrInvalid) {
		// The message names only the definition's own examples.
		return &conversation.Error{Code: conversation.EINVALID, Message: err.Error(), Err: err}
	}
	return err
}

// problem is one problem of a bot or template definition, in an error
// response.
type problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// problemsOf lists the definition problems err carries, when it is the
// client's fault; the details of other errors stay private.
func problemsOf(err error) []problem {
	if conversation.ErrorCode(err) != conversation.EINVALID {
		return nil
	}
	if de, ok := errors.AsType[bot.DefinitionErrors](err); ok {
		out := make([]problem, 0, len(de))
		for _, p := range de {
			out = append(out, problem{File: p.File, Line: p.Line, Field: p.Field, Message: p.Msg})
		}
		return out
	}
	if ps, ok := errors.AsType[templates.Problems](err); ok {
		out := make([]problem, 0, len(ps))
		for _, p := range ps {
			out = append(out, problem{File: p.File, Line: p.Line, Column: p.Column, Field: p.Field, Message: p.Msg})
		}
		return out
	}
	return nil
}

func (a *API) listBotVersions(w http.ResponseWriter, r *http.Request, t tenant) error {
	vs, err := a.cfg.BotStore.BotVersions(r.Context(), t.ID)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []bot.Version{}
	}
	// A tenant has few versions: one page holds them all.
	writeJSON(w, http.StatusOK, page[bot.Version]{Data: vs})
	return nil
}

// botVersionDetail is one version with its definition and report.
type botVersionDetail struct {
	bot.Version
	// Report is the evaluation report, as the engine stored it.
	Report json.RawMessage `json:"report"`
	// Files are the definition: file name to content.
	Files map[string]string `json:"files"`
}

func (a *API) getBotVersion(w http.ResponseWriter, r *http.Request, t tenant) error {
	n, err := pathNumber(r)
	if err != nil {
		return err
	}
	v, err := a.cfg.BotStore.BotVersion(r.Context(), t.ID, n)
	if err != nil {
		return err
	}
	src, err := bot.SourceFromVersion(v)
	if err != nil {
		return fmt.Errorf("bot version %d: %w", n, err)
	}
	d := botVersionDetail{Version: v, Report: v.Report, Files: make(map[string]string, len(src))}
	if len(d.Report) == 0 || !json.Valid(d.Report) {
		d.Report = json.RawMessage("null")
	}
	for name, content := range src {
		d.Files[name] = string(content)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (a *API) activateBotVersion(w http.ResponseWriter, r *http.Request, t tenant) error {
	n, err := pathNumber(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	tn, err := a.store.Tenant(ctx, t.ID)
	if err != nil {
		return err
	}
	if err := a.cfg.Bots.Activate(ctx, tn, n); err != nil {
		return err
	}
	v, err := a.cfg.BotStore.BotVersion(ctx, t.ID, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) rollbackBot(w http.ResponseWriter, r *http.Request, t tenant) error {
	ctx := r.Context()
	tn, err := a.store.Tenant(ctx, t.ID)
	if err != nil {
		return err
	}
	n, err := a.cfg.Bots.Rollback(ctx, tn)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"version": n})
	return nil
}

// pathNumber reads the version number in the path.
func pathNumber(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("number"), 10, 64)
	if err != nil || n <= 0 {
		return 0, conversation.Errorf(conversation.ENOTFOUND, "%q is not a bot version number", r.PathValue("number"))
	}
	return n, nil
}

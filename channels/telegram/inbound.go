package telegram

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-telegram/bot"

	"conversa/conversation"
)

// Routes implements channels.Webhooks: POST RoutePrefix + "{key}", where
// key is the account's key, the bot's username.
//
// Answers: 200 once the update is stored, or when it is a duplicate or of
// a kind Conversa ignores; 403 for a missing or wrong secret token (or an
// account in polling mode) and for a disabled account; 404 for an unknown
// bot; 400 for a malformed update; 413 for a body over Config.MaxBodyBytes;
// 503 when the update could not be stored, so that Telegram sends it again.
func (c *Channel) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+RoutePrefix+"{key}", c.serveWebhook)
}

func (c *Channel) serveWebhook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key := r.PathValue("key")
	log := c.logger.With("account", key)
	acct, err := c.deps.Service.Account(ctx, conversation.ChannelTelegram, key)
	switch conversation.ErrorCode(err) {
	case "":
	case conversation.ENOTFOUND:
		log.Warn("telegram webhook for an unknown bot", "remote", r.RemoteAddr)
		http.Error(w, "unknown bot", http.StatusNotFound)
		return
	case conversation.EFORBIDDEN:
		log.Warn("telegram webhook for a disabled bot", "remote", r.RemoteAddr)
		http.Error(w, "disabled bot", http.StatusForbidden)
		return
	default:
		log.Error("telegram webhook: read the account", "err", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	log = log.With("tenant", acct.TenantID)
	if !c.secretOK(acct, r.Header.Get(SecretHeader)) {
		log.Warn("telegram webhook refused: missing or wrong secret token", "remote", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			log.Warn("telegram webhook refused: body too large", "limit", c.cfg.MaxBodyBytes)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		log.Warn("telegram webhook: read the body", "err", err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	u, err := parseUpdate(body)
	if err != nil {
		log.Warn("telegram webhook refused: malformed update", "err", err, "bytes", len(body))
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	if err := c.handle(ctx, acct, u, log); err != nil {
		if isInvalid(err) {
			log.Warn("telegram webhook refused: invalid update", "update_id", u.ID, "err", err)
			http.Error(w, "invalid update", http.StatusBadRequest)
			return
		}
		log.Error("telegram webhook: store the update", "update_id", u.ID, "err", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// secretOK reports whether got is the account's webhook secret. An account
// in polling mode, or without a secret, takes no webhooks.
func (c *Channel) secretOK(a conversation.ChannelAccount, got string) bool {
	want := a.Settings[SettingWebhookSecret]
	if a.Settings[SettingMode] == ModePolling || want == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// isInvalid reports whether err says the update itself is unacceptable, so
// that sending it again cannot help.
func isInvalid(err error) bool {
	code := conversation.ErrorCode(err)
	return code == conversation.EINVALID || code == conversation.ETOOLARGE
}

// handle stores one parsed update of the account: it copies the files of
// its media parts into the media store, ingests the message and answers a
// button press. An error means nothing was stored; an invalid update (see
// isInvalid) cannot be stored.
func (c *Channel) handle(ctx context.Context, acct conversation.ChannelAccount, u update, log *slog.Logger) error {
	if u.Ignored != "" {
		log.Info("telegram update ignored", "update_id", u.ID, "kind", u.Kind, "why", u.Ignored)
		if u.CallbackID != "" {
			c.answerCallback(ctx, acct, u.CallbackID, log)
		}
		return nil
	}
	in := *u.Inbound
	in.Account = acct.Key
	in.Parts = append([]conversation.Part(nil), in.Parts...)
	for i, fileID := range u.Files {
		m, err := c.keepFile(ctx, acct, fileID, *in.Parts[i].Media, log)
		if err != nil {
			return err
		}
		in.Parts[i].Media = &m
	}
	res, err := c.deps.Service.Ingest(ctx, in)
	if err != nil {
		return err
	}
	log.Debug("telegram update stored", "update_id", u.ID, "kind", u.Kind, "duplicate", res.Duplicate)
	if u.CallbackID != "" {
		c.answerCallback(ctx, acct, u.CallbackID, log)
	}
	return nil
}

// answerCallback stops the spinner of a pressed button. A failure is only
// logged: the press is stored, and Telegram gives up the spinner by itself.
func (c *Channel) answerCallback(ctx context.Context, acct conversation.ChannelAccount, id string, log *slog.Logger) {
	b, err := c.botFor(acct)
	if err != nil {
		log.Warn("answer telegram callback query", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	if _, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: id}); err != nil {
		log.Warn("answer telegram callback query", "err", err)
	}
}

// downloadError is a failure to fetch a file from Telegram, as opposed to a
// failure to store it.
type downloadError struct {
	err error
	// permanent says Telegram refused the file (too big, gone), so that a
	// retry cannot help.
	permanent bool
}

func (e *downloadError) Error() string { return "download telegram file: " + e.err.Error() }
func (e *downloadError) Unwrap() error { return e.err }

// downloadAttempts is how often a file download is tried before the
// message is kept without the file.
const downloadAttempts = 3

// keepFile copies the file fileID into the media store, as the media
// policy allows, and returns the part's media: with a Key when kept, with a
// Note when not (refused by the policy, over the Bot API's 20 MB download
// limit, refused by Telegram, or failing to download after a few tries).
// An error means storing failed; the update should be tried again.
func (c *Channel) keepFile(ctx context.Context, acct conversation.ChannelAccount, fileID string, m conversation.Media, log *slog.Logger) (conversation.Media, error) {
	b, err := c.botFor(acct)
	if err != nil {
		return conversation.Media{}, err
	}
	// Past the policy's limit, Keep says so; past the Bot API's, we do.
	if m.Size > maxDownload && c.cfg.Media.MaxBytes > maxDownload && c.cfg.Media.Allowed(m.ContentType) {
		return notKept(m, fmt.Sprintf("file not kept: larger than the %d MB Telegram lets bots download", maxDownload>>20)), nil
	}
	pause := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		kept, err := c.cfg.Media.Keep(ctx, c.deps.Media, acct.TenantID, m, &fileReader{ctx: ctx, c: c, b: b, fileID: fileID})
		if err == nil {
			if kept.Note != "" {
				log.Info("telegram file not kept", "content_type", kept.ContentType, "size", m.Size, "why", kept.Note)
				kept = notKept(kept, kept.Note)
			}
			return kept, nil
		}
		de, ok := errors.AsType[*downloadError](err)
		if !ok || ctx.Err() != nil {
			return conversation.Media{}, err
		}
		if de.permanent || attempt == downloadAttempts {
			log.Warn("telegram file not kept", "err", err, "attempts", attempt)
			if de.permanent {
				return notKept(m, "file not kept: Telegram did not provide it"), nil
			}
			return notKept(m, "file not kept: the download from Telegram failed"), nil
		}
		select {
		case <-ctx.Done():
			return conversation.Media{}, ctx.Err()
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// notKept returns m as a file that was not kept, with a size the core
// accepts.
func notKept(m conversation.Media, note string) conversation.Media {
	m.URL, m.Key, m.Note = "", "", note
	if m.Size > conversation.MaxMediaSize {
		m.Size = 0
	}
	return m
}

// fileReader fetches a Telegram file when first read: getFile, then a GET
// of the file URL. The URL holds the bot token: it never leaves this type,
// not even in errors.
type fileReader struct {
	ctx    context.Context
	c      *Channel
	b      *bot.Bot
	fileID string
	body   io.ReadCloser
	cancel context.CancelFunc
}

func (f *fileReader) Read(p []byte) (int, error) {
	if f.body == nil {
		if err := f.open(); err != nil {
			return 0, err
		}
	}
	n, err := f.body.Read(p)
	if err != nil && err != io.EOF {
		f.close()
		return n, &downloadError{err: redactURL(err)}
	}
	if err == io.EOF {
		f.close()
	}
	return n, err
}

func (f *fileReader) close() {
	if f.body != nil {
		f.body.Close()
		f.cancel()
	}
}

func (f *fileReader) open() error {
	ctx, cancel := context.WithTimeout(f.ctx, f.c.cfg.RequestTimeout)
	file, err := f.b.GetFile(ctx, &bot.GetFileParams{FileID: f.fileID})
	if err != nil {
		cancel()
		return &downloadError{err: err, permanent: permanentAPIError(err)}
	}
	if file.FilePath == "" {
		cancel()
		return &downloadError{err: errors.New("getFile returned no file_path"), permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.b.FileDownloadLink(file), nil)
	if err != nil {
		cancel()
		return &downloadError{err: errors.New("bad file_path"), permanent: true}
	}
	res, err := f.c.cfg.HTTPClient.Do(req)
	if err != nil {
		cancel()
		return &downloadError{err: redactURL(err)}
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		return &downloadError{err: fmt.Errorf("file server answered %s", res.Status), permanent: res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests}
	}
	f.body, f.cancel = res.Body, cancel
	return nil
}

// redactURL removes the URL, which may hold the bot token, from a client
// error.
func redactURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return &url.Error{Op: ue.Op, URL: "(telegram file URL)", Err: ue.Err}
	}
	return err
}

// permanentAPIError reports whether a Bot API error is a refusal that a
// retry cannot change.
func permanentAPIError(err error) bool {
	for _, e := range []error{bot.ErrorBadRequest, bot.ErrorForbidden, bot.ErrorNotFound, bot.ErrorUnauthorized} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

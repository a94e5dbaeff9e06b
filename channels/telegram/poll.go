package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"

	"conversa/conversation"
)

// SetWebhook points the account's bot at this server: it calls setWebhook
// with PublicURL + RoutePrefix + key, the account's secret token and the
// update kinds Conversa reads. Returns EINVALID if the account is not in
// webhook mode or no PublicURL is configured, and the Bot API's error if
// Telegram refuses (it takes only HTTPS URLs on ports 443, 80, 88 and 8443).
func (c *Channel) SetWebhook(ctx context.Context, a conversation.ChannelAccount) error {
	if a.Kind != conversation.ChannelTelegram {
		return conversation.FieldError("kind", "not a telegram account")
	}
	if a.Settings[SettingMode] == ModePolling {
		return conversation.FieldError("settings."+SettingMode, "the account polls for updates; it takes no webhook")
	}
	if c.cfg.PublicURL == "" {
		return conversation.FieldError("public_url", "is needed to tell Telegram where to post updates")
	}
	secret := a.Settings[SettingWebhookSecret]
	if !secretRE.MatchString(secret) {
		return conversation.FieldError("settings."+SettingWebhookSecret, "is required in webhook mode")
	}
	b, err := c.botFor(a)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	_, err = b.SetWebhook(ctx, &bot.SetWebhookParams{
		URL:            c.WebhookURL(a),
		SecretToken:    secret,
		AllowedUpdates: allowedUpdates,
	})
	if err != nil {
		return fmt.Errorf("set telegram webhook of %s: %w", a.Key, err)
	}
	return nil
}

// WebhookURL is where Telegram posts the updates of the account.
func (c *Channel) WebhookURL(a conversation.ChannelAccount) string {
	return c.cfg.PublicURL + RoutePrefix + url.PathEscape(a.Key)
}

// Run implements channels.Runner: it long-polls the bots of the enabled
// accounts in polling mode, re-reading the account list every
// AccountsInterval and starting, restarting (when the token changes) or
// stopping pollers to match. It returns nil when ctx ends and the pollers
// have stopped. Failures are logged and retried; they never end Run.
func (c *Channel) Run(ctx context.Context) error {
	if c.deps.Accounts == nil {
		return errors.New("telegram channel: Run needs the account list")
	}
	type running struct {
		token  string
		cancel context.CancelFunc
	}
	pollers := map[int64]running{}
	var wg sync.WaitGroup
	defer func() {
		for _, p := range pollers {
			p.cancel()
		}
		wg.Wait()
	}()
	tick := time.NewTicker(c.cfg.AccountsInterval)
	defer tick.Stop()
	for {
		accts, err := c.pollingAccounts(ctx)
		if err != nil && ctx.Err() == nil {
			c.logger.Error("list telegram accounts", "err", err)
		}
		if err == nil {
			for id, p := range pollers {
				if a, ok := accts[id]; !ok || a.Settings[SettingBotToken] != p.token {
					p.cancel()
					delete(pollers, id)
				}
			}
			for id, a := range accts {
				if _, ok := pollers[id]; ok {
					continue
				}
				pctx, cancel := context.WithCancel(ctx)
				pollers[id] = running{token: a.Settings[SettingBotToken], cancel: cancel}
				wg.Go(func() { c.poll(pctx, a) })
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// pollingAccounts returns the enabled Telegram accounts in polling mode of
// every tenant, by id.
func (c *Channel) pollingAccounts(ctx context.Context) (map[int64]conversation.ChannelAccount, error) {
	tenants, err := c.deps.Accounts.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]conversation.ChannelAccount{}
	for _, t := range tenants {
		accts, err := c.deps.Accounts.ListChannelAccounts(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range accts {
			if a.Kind == conversation.ChannelTelegram && !a.Disabled && a.Settings[SettingMode] == ModePolling && tokenRE.MatchString(a.Settings[SettingBotToken]) {
				out[a.ID] = a
			}
		}
	}
	return out, nil
}

// poll long-polls one bot until ctx ends. With a Locker, it polls only
// while it holds the bot's lock.
func (c *Channel) poll(ctx context.Context, a conversation.ChannelAccount) {
	log := c.logger.With("account", a.Key, "tenant", a.TenantID, "bot", botID(a.Settings[SettingBotToken]))
	log.Info("telegram polling starts")
	defer log.Info("telegram polling stops")
	lockTTL := c.cfg.PollTimeout + c.cfg.RequestTimeout
	for ctx.Err() == nil {
		var lock conversation.Lock
		if c.deps.Locker != nil {
			l, err := c.deps.Locker.TryLock(ctx, "telegram:poll:"+botID(a.Settings[SettingBotToken]), lockTTL)
			if err != nil {
				if !conversation.IsConflict(err) {
					log.Warn("take the telegram polling lock", "err", err)
				}
				sleep(ctx, c.cfg.AccountsInterval)
				continue
			}
			lock = l
		}
		c.pollHeld(ctx, a, lock, lockTTL, log)
		if lock != nil {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			lock.Unlock(uctx)
			cancel()
		}
	}
}

// pollHeld polls while the lock (if any) is held: it drops a webhook the
// bot may have (getUpdates is refused while one is set), then asks for
// updates after the last one handled, handles them in order, and confirms
// them only by asking for the next ones. An update that fails to be stored
// is asked for again; one that is invalid is logged and skipped.
func (c *Channel) pollHeld(ctx context.Context, a conversation.ChannelAccount, lock conversation.Lock, lockTTL time.Duration, log *slog.Logger) {
	b, err := c.botFor(a)
	if err != nil {
		log.Error("telegram polling", "err", err)
		sleep(ctx, c.cfg.AccountsInterval)
		return
	}
	pause := time.Duration(0)
	backoff := func() {
		pause = min(max(2*pause, c.cfg.PollPause), time.Minute)
		sleep(ctx, pause)
	}
	webhookDropped := false
	var offset int64
	for ctx.Err() == nil {
		if lock != nil {
			if err := lock.Extend(ctx, lockTTL); err != nil {
				log.Warn("lost the telegram polling lock", "err", err)
				return
			}
		}
		if !webhookDropped {
			dctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
			_, err := b.DeleteWebhook(dctx, &bot.DeleteWebhookParams{})
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("drop the telegram webhook before polling", "err", err)
					backoff()
				}
				continue
			}
			webhookDropped = true
		}
		start := time.Now()
		raw, err := c.getUpdates(ctx, a.Settings[SettingBotToken], offset)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("telegram getUpdates", "err", err)
				if errors.Is(err, errConflict) {
					webhookDropped = false
				}
				backoff()
			}
			continue
		}
		pause = 0
		failed := false
		for _, r := range raw {
			u, err := parseUpdate(r.data)
			if err == nil {
				err = c.handle(ctx, a, u, log)
			}
			if err != nil && !isInvalid(err) && !isParse(err) {
				if ctx.Err() == nil {
					log.Error("telegram polling: store the update", "update_id", r.id, "err", err)
				}
				failed = true
				break
			}
			if err != nil {
				log.Warn("telegram update skipped: invalid", "update_id", r.id, "err", err)
			}
			offset = r.id + 1
		}
		if failed {
			backoff()
			continue
		}
		// A server that answers at once with nothing does not long-poll:
		// do not spin.
		if len(raw) == 0 && time.Since(start) < c.cfg.PollTimeout/2 {
			sleep(ctx, c.cfg.PollPause)
		}
	}
}

// isParse reports whether err says an update is malformed.
func isParse(err error) bool {
	_, ok := errors.AsType[*parseError](err)
	return ok
}

// rawUpdate is one update of a getUpdates answer, before parsing.
type rawUpdate struct {
	id   int64
	data []byte
}

var errConflict = errors.New("conflict: another getUpdates or a webhook is active")

// getUpdates asks for the updates after offset, waiting up to PollTimeout
// for one. go-telegram's own polling loop confirms updates before its
// handlers have stored them, so the channel makes this one call itself;
// errors never show the URL, which holds the token.
func (c *Channel) getUpdates(ctx context.Context, token string, offset int64) ([]rawUpdate, error) {
	body, err := json.Marshal(map[string]any{
		"offset":          offset,
		"timeout":         int(c.cfg.PollTimeout / time.Second),
		"allowed_updates": allowedUpdates,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PollTimeout+c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+"/bot"+token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("build the getUpdates request")
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, redactToken(err, token)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, redactToken(err, token)
	}
	return parseUpdates(res.StatusCode, data)
}

// parseUpdates reads a getUpdates answer: the updates, each with its id,
// in order. An element without an update_id is dropped, since it cannot be
// confirmed anyway.
func parseUpdates(status int, data []byte) ([]rawUpdate, error) {
	var r struct {
		OK          bool              `json:"ok"`
		Result      []json.RawMessage `json:"result"`
		ErrorCode   int               `json:"error_code"`
		Description string            `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("getUpdates answered HTTP %d with no Bot API response", status)
	}
	if !r.OK {
		desc := clean(r.Description, 200)
		if r.ErrorCode == http.StatusConflict {
			return nil, fmt.Errorf("%w: %s", errConflict, desc)
		}
		return nil, fmt.Errorf("getUpdates refused: %d %s", r.ErrorCode, desc)
	}
	out := make([]rawUpdate, 0, len(r.Result))
	for _, raw := range r.Result {
		var head struct {
			UpdateID int64 `json:"update_id"`
		}
		if json.Unmarshal(raw, &head) != nil || head.UpdateID <= 0 {
			continue
		}
		out = append(out, rawUpdate{id: head.UpdateID, data: raw})
	}
	return out, nil
}

// redactToken removes the token from a client error, which names the URL.
func redactToken(err error, token string) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return &url.Error{Op: ue.Op, URL: strings.ReplaceAll(ue.URL, token, "<token>"), Err: ue.Err}
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "<token>"))
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

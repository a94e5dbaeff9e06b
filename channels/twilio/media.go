package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"conversa/conversation"
)

// fetchMedia replaces, in parts, each file at Twilio's URL by the file
// kept in the media store, or by a note that says why it was not kept
// (too large, of a forbidden type, or not downloadable). Files download at
// once, each within Config.MediaTimeout. An error means the media store
// failed.
func (t *Twilio) fetchMedia(ctx context.Context, acct conversation.ChannelAccount, set settings, parts []conversation.Part) error {
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i := range parts {
		m := parts[i].Media
		if m == nil || m.URL == "" {
			continue
		}
		wg.Go(func() {
			kept, err := t.download(ctx, acct.TenantID, set, *m)
			if err == nil {
				parts[i].Media = &kept
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// download copies the file at m.URL into the media store.
func (t *Twilio) download(ctx context.Context, tenantID int64, set settings, m conversation.Media) (conversation.Media, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.MediaTimeout)
	defer cancel()
	lost := func(why string) (conversation.Media, error) {
		m.URL, m.Key, m.Note = "", "", "file not kept: "+why
		return m, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return lost("its address is not valid")
	}
	if t.twilioHost(req.URL) {
		// Twilio's media URLs need the account's credentials; the CDN it
		// redirects to is another host, to which net/http does not forward
		// them.
		req.SetBasicAuth(set.credentials())
	}
	hc := &http.Client{Transport: t.cfg.Transport}
	res, err := hc.Do(req)
	if err != nil {
		t.logger.Warn("twilio media download failed", "err", err)
		return lost("it could not be downloaded from Twilio")
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.logger.Warn("twilio media download refused", "status", res.StatusCode)
		return lost(fmt.Sprintf("Twilio answered HTTP %d when it was downloaded", res.StatusCode))
	}
	if m.ContentType == "application/octet-stream" && res.Header.Get("Content-Type") != "" {
		m.ContentType = res.Header.Get("Content-Type")
	}
	if res.ContentLength > 0 {
		m.Size = res.ContentLength
	}
	body := &trackedReader{r: res.Body}
	kept, err := t.cfg.Media.Keep(ctx, t.media, tenantID, m, body)
	if err != nil && body.err != nil {
		t.logger.Warn("twilio media download broke off", "err", body.err)
		return lost("the download from Twilio broke off")
	}
	return kept, err
}

// twilioHost reports whether u is on Twilio's API host (or the configured
// stand-in), the only place the account's credentials are sent.
func (t *Twilio) twilioHost(u *url.URL) bool {
	if t.cfg.APIBaseURL != DefaultAPIBaseURL {
		return u.Scheme == t.apiBase.Scheme && u.Host == t.apiBase.Host
	}
	h := u.Hostname()
	return u.Scheme == "https" && (h == "api.twilio.com" || (strings.HasPrefix(h, "api.") && strings.HasSuffix(h, ".twilio.com")))
}

// trackedReader remembers a read error, to tell a broken download from a
// failing store.
type trackedReader struct {
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

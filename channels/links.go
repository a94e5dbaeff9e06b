package channels

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// MediaLinks makes and serves links to the files of the media store: the
// link carries the tenant, the key, the file's type and name and an expiry,
// signed with the server's secret, so it works in an <img> tag or for a
// provider fetching an attachment, with no other credentials, until it
// expires.
type MediaLinks struct {
	// Secret signs the links; the same on every node.
	Secret []byte
	// BaseURL is the server's public URL (no trailing slash).
	BaseURL string
	Store   conversation.MediaStore
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MediaPath is where MediaLinks serves files: MediaPath + "{tenant}/{key}".
const MediaPath = "/media/"

func (l *MediaLinks) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *MediaLinks) sign(tenant, key, expires, ctype, name string) string {
	mac := hmac.New(sha256.New, l.Secret)
	for _, s := range []string{"conversa media link", tenant, key, expires, ctype, name} {
		mac.Write([]byte(s))
		mac.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// URL returns a link to the stored file m of the tenant, valid for ttl. It
// returns "" for a file that is not in the store.
func (l *MediaLinks) URL(tenantID int64, m conversation.Media, ttl time.Duration) string {
	if m.Key == "" {
		return ""
	}
	tenant := strconv.FormatInt(tenantID, 10)
	expires := strconv.FormatInt(l.now().Add(ttl).Unix(), 10)
	q := url.Values{"e": {expires}, "t": {m.ContentType}, "s": {l.sign(tenant, m.Key, expires, m.ContentType, m.Filename)}}
	if m.Filename != "" {
		q.Set("n", m.Filename)
	}
	return l.BaseURL + MediaPath + tenant + "/" + url.PathEscape(m.Key) + "?" + q.Encode()
}

// Routes registers the file handler on mux.
func (l *MediaLinks) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+MediaPath+"{tenant}/{key}", l.serve)
}

var errBadLink = errors.New("the link is invalid or has expired")

func (l *MediaLinks) serve(w http.ResponseWriter, r *http.Request) {
	tenant, key := r.PathValue("tenant"), r.PathValue("key")
	q := r.URL.Query()
	expires, ctype, name, sig := q.Get("e"), q.Get("t"), q.Get("n"), q.Get("s")
	exp, err := strconv.ParseInt(expires, 10, 64)
	tenantID, terr := strconv.ParseInt(tenant, 10, 64)
	if err != nil || terr != nil || !hmac.Equal([]byte(sig), []byte(l.sign(tenant, key, expires, ctype, name))) || l.now().Unix() > exp {
		l.logger().Info("media link refused", "path", r.URL.Path, "err", errBadLink)
		http.Error(w, errBadLink.Error(), http.StatusForbidden)
		return
	}
	f, err := l.Store.Open(r.Context(), tenantID, key)
	if conversation.IsNotFound(err) {
		http.Error(w, "file not found", http.StatusNotFound)
		return
	}
	if err != nil {
		l.logger().Error("media link: open file", "tenant", tenantID, "key", key, "err", err)
		http.Error(w, "the file cannot be read now", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	h := w.Header()
	// The file is the customer's, not ours: never let a browser run it.
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, max-age=3600")
	disposition := "attachment"
	if strings.HasPrefix(ctype, "image/") || strings.HasPrefix(ctype, "audio/") || strings.HasPrefix(ctype, "video/") || ctype == "application/pdf" {
		disposition = "inline"
	}
	if name != "" {
		disposition = mime.FormatMediaType(disposition, map[string]string{"filename": name})
	}
	h.Set("Content-Disposition", disposition)
	if rs, ok := f.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs)
		return
	}
	io.Copy(w, f)
}

func (l *MediaLinks) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

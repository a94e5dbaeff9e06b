package channels

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"conversa/conversation"
)

// MediaPolicy says which files a channel keeps of what customers send.
type MediaPolicy struct {
	// MaxBytes is the largest file kept (default 16 MiB, WhatsApp's limit
	// for audio and video).
	MaxBytes int64
	// Types are the content types kept: exact ("application/pdf") or a
	// whole family ("image/*"). Nil keeps DefaultMediaTypes.
	Types []string
}

// DefaultMediaTypes are the files customers send to a contact center:
// pictures, voice notes, videos, documents and contact cards. Executables,
// archives and HTML are not among them.
var DefaultMediaTypes = []string{
	"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
	"audio/*", "video/mp4", "video/3gpp", "video/quicktime",
	"application/pdf", "text/plain", "text/csv", "text/vcard", "text/x-vcard",
	"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
}

const defaultMaxMedia = 16 << 20

func (p MediaPolicy) max() int64 {
	if p.MaxBytes > 0 {
		return min(p.MaxBytes, conversation.MaxMediaSize)
	}
	return defaultMaxMedia
}

// Allowed reports whether files of contentType are kept. Parameters
// ("audio/ogg; codecs=opus") are ignored.
func (p MediaPolicy) Allowed(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	types := p.Types
	if types == nil {
		types = DefaultMediaTypes
	}
	for _, t := range types {
		if t == mt || (strings.HasSuffix(t, "/*") && strings.HasPrefix(mt, t[:len(t)-1])) {
			return true
		}
	}
	return false
}

// Keep copies a file a customer sent, read from r, into store. m describes
// it: its content type as the provider gave it, and its size when the
// provider said (-1 or 0 if unknown). A file the policy does not keep is
// not stored: Keep returns m with no URL or key and a Note that says why,
// and a nil error, so that the message is kept without it. An error means
// reading or storing failed, and is worth a retry.
func (p MediaPolicy) Keep(ctx context.Context, store conversation.MediaStore, tenantID int64, m conversation.Media, r io.Reader) (conversation.Media, error) {
	m.URL, m.Key = "", ""
	if mt, _, err := mime.ParseMediaType(m.ContentType); err == nil {
		m.ContentType = mt
	}
	if !p.Allowed(m.ContentType) {
		m.Note = fmt.Sprintf("file not kept: files of type %.100s are not accepted", orUnknown(m.ContentType))
		if _, _, err := mime.ParseMediaType(m.ContentType); err != nil {
			m.ContentType = "application/octet-stream"
		}
		return m, nil
	}
	limit := p.max()
	if m.Size > limit {
		m.Note = tooLarge(limit)
		return m, nil
	}
	lr := &limitedReader{r: r, left: limit}
	stored, err := store.Put(ctx, tenantID, m, lr)
	if errors.Is(err, errTooLarge) {
		m.Note = tooLarge(limit)
		return m, nil
	}
	return stored, err
}

func tooLarge(limit int64) string {
	return fmt.Sprintf("file not kept: larger than the %d MB accepted", limit>>20)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

var errTooLarge = errors.New("file too large")

// limitedReader fails, instead of stopping short, past its limit, so that
// a store discards the part it read.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

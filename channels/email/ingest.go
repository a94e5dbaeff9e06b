package email

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// unknownSender is the address of an email that names no usable sender. The
// email is kept, from this contact, and never answered.
const unknownSender = "unknown-sender@invalid"

// maxMediaParts leaves room for the text part within conversation.MaxParts.
const maxMediaParts = conversation.MaxParts - 1

// ingest hands one raw email to the service. It reports keep when the email
// must stay where it is in the mailbox (not moved or flagged): too large to
// read whole, or not stored. An error is worth a retry of the same email.
func (c *Channel) ingest(ctx context.Context, acct conversation.ChannelAccount, s settings, raw []byte, arrived time.Time, size int64, tooLarge bool, logger *slog.Logger) (keep bool, err error) {
	start := time.Now()
	e := Parse(raw)
	parsed := time.Since(start)
	if tooLarge {
		e.Text = fmt.Sprintf("[This email is %.1f MB, more than the %d MB this mailbox reads; it stays in the mailbox, unread by Conversa.]", float64(size)/(1<<20), c.cfg.MaxEmailBytes>>20)
		e.Problems = append(e.Problems, "too large to read; header only")
		if e.Automated == "" {
			// A person should look at it before anything answers.
			e.Automated = "too large"
		}
	}
	if len(e.Problems) > 0 {
		logger.Warn("email read with problems", "message_id", e.MessageID, "from", e.From, "problems", strings.Join(e.Problems, "; "))
	}
	from := e.From
	if from == "" {
		from = unknownSender
	}

	in := conversation.Inbound{
		Channel:    conversation.ChannelEmail,
		Account:    acct.Key,
		From:       from,
		FromName:   e.FromName,
		ProviderID: providerID(e, raw),
		Language:   e.Language,
		ReceivedAt: arrived,
		Meta:       map[string]string{},
	}
	setMeta := func(k, v string) {
		if v != "" {
			in.Meta[k] = v
		}
	}
	setMeta(conversation.MetaSubject, e.Subject)
	setMeta(MetaMessageID, e.MessageID)
	setMeta(MetaInReplyTo, e.InReplyTo)
	setMeta(MetaReferences, truncateWords(strings.Join(e.References, " "), 4096))
	setMeta(conversation.MetaNoReply, e.Automated)
	if e.Recipients > 1 {
		setMeta(MetaRecipients, strconv.Itoa(e.Recipients))
	}
	if conv, ok := c.verifyToken(acct.ID, e.ReplyToken); ok {
		setMeta(MetaReplyToken, strconv.FormatInt(conv, 10))
	}
	if e.Bounce != nil {
		setMeta(MetaBounceOf, e.Bounce.MessageID)
	}
	if len(e.Problems) > 0 {
		setMeta(MetaProblems, truncate(strings.Join(e.Problems, "; "), 1024))
	}

	// The whole email, as it came, for whoever needs more than the text.
	if c.deps.Media != nil && !tooLarge {
		m, err := c.deps.Media.Put(ctx, acct.TenantID, conversation.Media{ContentType: "message/rfc822", Filename: "original.eml", Size: int64(len(raw))}, bytes.NewReader(raw))
		if err != nil {
			return true, fmt.Errorf("store the raw email: %w", err)
		}
		setMeta(MetaEML, m.Key)
	}

	text := e.Text
	var media []conversation.Part
	extra := 0
	for _, a := range e.Attachments {
		if len(media) >= maxMediaParts {
			extra++
			continue
		}
		m := conversation.Media{ContentType: a.ContentType, Size: int64(a.Size), Filename: a.Filename}
		if c.deps.Media == nil {
			m.Note = "file not kept: no media store"
		} else if m, err = c.cfg.Media.Keep(ctx, c.deps.Media, acct.TenantID, m, bytes.NewReader(a.Data)); err != nil {
			return true, fmt.Errorf("store attachment %q: %w", a.Filename, err)
		}
		if m.Note != "" {
			logger.Info("attachment not kept", "filename", a.Filename, "content_type", a.ContentType, "size", a.Size, "note", m.Note)
		}
		media = append(media, conversation.Part{Type: conversation.PartMedia, Media: &m})
	}
	if extra > 0 {
		text = strings.TrimSpace(text + fmt.Sprintf("\n\n[%d more attachments are in the original email.]", extra))
	}
	if text == "" && len(media) == 0 {
		text = e.Subject
		if text == "" {
			text = "[empty email]"
		}
	}
	if text != "" {
		in.Parts = append(in.Parts, conversation.TextPart(text))
	}
	in.Parts = append(in.Parts, media...)

	if u, ok := c.unsubscribeRequest(acct, e.Subject); ok {
		// The mailto of a notification's List-Unsubscribe: the opt-out is
		// recorded, and the email is kept, unanswered.
		switch err := c.optOut(ctx, u, e.MessageID); {
		case conversation.IsNotFound(err) || conversation.ErrorCode(err) == conversation.EINVALID:
			logger.Warn("unsubscribe email not applied", "message_id", e.MessageID, "contact", u.contactID, "err", err)
		case err != nil:
			return true, fmt.Errorf("record the unsubscribe request: %w", err)
		}
		in.Meta[conversation.MetaNoReply] = "unsubscribe request"
	}

	res, err := c.deps.Service.Ingest(ctx, in)
	switch code := conversation.ErrorCode(err); {
	case err == nil:
	case code == conversation.ENOTFOUND || code == conversation.EFORBIDDEN:
		return true, fmt.Errorf("%w: %v", errStop, err)
	case code == conversation.EINVALID || code == conversation.ETOOLARGE:
		// Something of the email did not fit the model: keep it anyway, as
		// a note pointing to the original.
		logger.Error("email refused as it came; storing a note with the original instead", "message_id", e.MessageID, "err", err)
		in.Parts = []conversation.Part{conversation.TextPart("[This email could not be stored as it came (" + truncate(conversation.ErrorMessage(err), 200) + "); the original is kept.]")}
		in.Meta = map[string]string{MetaEML: in.Meta[MetaEML], conversation.MetaNoReply: "unreadable email", MetaMessageID: in.Meta[MetaMessageID]}
		in.FromName = ""
		if res, err = c.deps.Service.Ingest(ctx, in); err != nil {
			if code := conversation.ErrorCode(err); code == conversation.EINVALID || code == conversation.ETOOLARGE {
				logger.Error("email not stored; it stays in the mailbox", "message_id", e.MessageID, "err", err)
				return true, nil
			}
			return true, err
		}
	default:
		return true, fmt.Errorf("ingest email: %w", err)
	}
	if res.Duplicate {
		logger.Info("email already ingested", "message_id", e.MessageID, "provider_id", in.ProviderID)
	}

	if e.Bounce != nil && e.Bounce.MessageID != "" {
		_, err := c.deps.Service.UpdateStatus(ctx, conversation.StatusUpdate{
			TenantID: acct.TenantID, AccountID: acct.ID, ProviderID: e.Bounce.MessageID, Status: conversation.StatusFailed,
			Failure: &conversation.Failure{Code: "bounce " + e.Bounce.Status, Message: truncate(strings.TrimSpace(e.Bounce.Recipient+": "+e.Bounce.Diagnostic), 500)},
		})
		switch {
		case conversation.IsNotFound(err):
			logger.Info("bounce of an email Conversa did not send", "bounce_of", e.Bounce.MessageID)
		case err != nil:
			return true, fmt.Errorf("record the bounce: %w", err)
		default:
			logger.Info("bounce: email marked failed", "bounce_of", e.Bounce.MessageID, "status", e.Bounce.Status)
		}
	}
	c.observe(StageIngested, acct.ID, 0, e.MessageID, time.Since(start))
	logger.Debug("email ingested", "message_id", e.MessageID, "from", from, "automated", e.Automated, "parse", parsed, "total", time.Since(start))
	return tooLarge, nil
}

// providerID is the de-duplication key of an email: its Message-ID and a
// digest of the sender, date, subject and body. The same email delivered or
// read twice has the same key (servers only add header fields on top); two
// different emails that reuse a Message-ID have different ones. An email
// without Message-ID is keyed by the digest alone.
func providerID(e *Email, raw []byte) string {
	body := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		body = raw[i+4:]
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		body = raw[i+2:]
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00", e.From, e.Date.Unix(), e.Subject)
	h.Write(bytes.TrimRight(body, "\r\n"))
	sum := hex.EncodeToString(h.Sum(nil))
	if e.MessageID == "" {
		return "sha256:" + sum[:40]
	}
	return e.MessageID + "#" + sum[:12]
}

// verifyToken returns the conversation a reply token names, if the token
// was made for the account.
func (c *Channel) verifyToken(accountID int64, token string) (int64, bool) {
	conv, mac, ok := strings.Cut(token, "x")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(conv, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	if !hmac.Equal([]byte(c.token(accountID, id)), []byte(token)) || mac == "" {
		return 0, false
	}
	return id, true
}

// truncateWords cuts a space-separated list to at most max bytes, keeping
// whole words from the end.
func truncateWords(s string, max int) string {
	for len(s) > max {
		_, rest, ok := strings.Cut(s, " ")
		if !ok {
			return ""
		}
		s = rest
	}
	return s
}

// unsubscribeRequest reports whether an email's subject is the one of a
// List-Unsubscribe mailto the account sent, and what it unsubscribes.
func (c *Channel) unsubscribeRequest(acct conversation.ChannelAccount, subject string) (unsubscribe, bool) {
	f := strings.Fields(subject)
	if len(f) != 2 || !strings.EqualFold(f[0], strings.TrimSpace(unsubscribeSubject)) {
		return unsubscribe{}, false
	}
	u, ok := c.verifyUnsubscribe(f[1])
	if !ok || u.tenantID != acct.TenantID || u.accountID != acct.ID {
		return unsubscribe{}, false
	}
	return u, true
}

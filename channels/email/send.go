package email

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"conversa/conversation"
)

// Meta keys the channel sets on messages.
const (
	MetaMessageID  = "message_id"
	MetaInReplyTo  = "in_reply_to"
	MetaReferences = "references" // space-separated, without brackets
	// MetaEML is the media-store key of the raw email, kept whole.
	MetaEML = "eml"
	// MetaReplyToken is the conversation token of the reply address the
	// email was sent to, when it was valid for the account.
	MetaReplyToken = "reply_token"
	// MetaBounceOf is, on a bounce, the Message-ID of the email that failed.
	MetaBounceOf   = "bounce_of"
	MetaRecipients = "recipients"
	MetaProblems   = "problems"
)

// Failure codes of sends the channel refuses itself.
const (
	// CodeAutoreplyLimit: an automatic reply went to the sender less than
	// autoreply_interval ago.
	CodeAutoreplyLimit = "autoreply_limit"
	CodeBadAccount     = "bad_account"
)

// threadHeaders are the headers that put a reply into its thread.
type threadHeaders struct {
	subject    string
	inReplyTo  string
	references []string
	quote      *Quote
	lang       string
	understood bool
}

// thread reads the conversation of d for the email it answers: the latest
// inbound email from a person, else the latest inbound email.
func (c *Channel) thread(ctx context.Context, d conversation.Delivery) (threadHeaders, error) {
	th := threadHeaders{understood: true, lang: d.Contact.Language}
	if c.deps.Store == nil || d.Message.ConversationID == 0 {
		return th, nil
	}
	ms, err := c.deps.Store.ListMessages(ctx, d.Message.TenantID, conversation.MessageFilter{ConversationID: d.Message.ConversationID, Newest: true, Limit: 50})
	if err != nil {
		return th, fmt.Errorf("read the thread: %w", err)
	}
	var last *conversation.Message
	for i := len(ms) - 1; i >= 0; i-- {
		m := &ms[i]
		if m.Direction != conversation.DirectionIn || m.Channel != conversation.ChannelEmail || m.Meta[MetaMessageID] == "" {
			continue
		}
		if m.Meta[conversation.MetaNoReply] == "" {
			last = m
			break
		}
		if last == nil {
			last = m
		}
	}
	if last == nil {
		return th, nil
	}
	th.subject = last.Meta[conversation.MetaSubject]
	th.inReplyTo = last.Meta[MetaMessageID]
	refs := strings.Fields(last.Meta[MetaReferences])
	if len(refs) == 0 && last.Meta[MetaInReplyTo] != "" {
		refs = []string{last.Meta[MetaInReplyTo]}
	}
	refs = append(refs, th.inReplyTo)
	if len(refs) > maxReferences {
		refs = append(refs[:1:1], refs[len(refs)-maxReferences+1:]...)
	}
	th.references = refs
	if a := last.Analysis; a != nil {
		if a.Language != "" {
			th.lang = a.Language
		}
		th.understood = a.Intent != "" && !a.OutOfScope
	}
	var to string
	if id, ok := d.Contact.IdentityOn(conversation.ChannelEmail); ok {
		to = id.Address
	}
	th.quote = &Quote{Name: d.Contact.Name, Address: to, Date: last.CreatedAt, Text: conversation.PartsText(textParts(last.Parts))}
	return th, nil
}

func textParts(ps []conversation.Part) []conversation.Part {
	var out []conversation.Part
	for _, p := range ps {
		if p.Type == conversation.PartText {
			out = append(out, p)
		}
	}
	return out
}

// Send implements channels.Channel: it sends d as an email from the
// account's mailbox to d.To, as a reply in the thread of the latest email
// of the conversation. Bot and system messages are automatic replies: they
// carry Auto-Submitted: auto-replied and at most one goes to a sender per
// autoreply_interval. An SMTP refusal is a *conversation.DeliveryError with
// the server's reply, permanent for 5xx.
func (c *Channel) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return conversation.Receipt{}, err
	}
	s, err := c.parseSettings(d.Account)
	if err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Code: CodeBadAccount, Message: "the mailbox settings are invalid: " + conversation.ErrorMessage(err), Permanent: true}
	}
	to, err := conversation.NormalizeAddress(conversation.ChannelEmail, d.To.Address)
	if err != nil || !strings.Contains(to, "@") {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: fmt.Sprintf("%q is not an email address", d.To.Address), Permanent: true}
	}
	th, err := c.thread(ctx, d)
	if err != nil {
		return conversation.Receipt{}, err
	}
	// A notification (a message with a purpose, from notify) is automatic
	// mail but no reply: it is auto-generated, carries the unsubscribe
	// links, is sent as written, and the per-sender limit of automatic
	// replies does not hold it back (notify has its own caps).
	purpose := d.Message.Meta[conversation.MetaPurpose]
	notification := purpose != "" && conversation.ValidPurpose(purpose)
	automatic := !notification && (d.Message.Author.Kind == conversation.AuthorBot || d.Message.Author.Kind == conversation.AuthorSystem)
	if th.lang != "en" {
		th.lang = "es"
	}
	parts := d.Message.Parts
	if automatic && !th.understood {
		// Email is not a chat: "could you say it another way?" helps nobody;
		// an acknowledgement does, until a person answers.
		parts = []conversation.Part{conversation.TextPart(acknowledgement(th.lang))}
	}
	subject := d.Message.Meta[conversation.MetaSubject]
	if subject == "" {
		subject = replySubject(th.subject)
	}
	if subject == "" {
		subject = s.fromName
		if subject == "" {
			subject = s.address
		}
	}
	var body Rendered
	if fragment := d.Message.Meta[conversation.MetaHTML]; notification && fragment != "" {
		body, err = RenderHTML(parts, th.lang, subject, fragment)
	} else {
		body, err = Render(parts, th.lang, subject, th.quote)
	}
	if err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: err.Error(), Permanent: true}
	}

	msgID := c.messageID(d, s.address)
	m := gomail.NewMsg()
	m.SetMessageIDWithValue(msgID)
	m.SetDateWithValue(time.Now())
	if err := m.FromFormat(oneLine(s.fromName, 200), s.address); err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Code: CodeBadAccount, Message: "invalid From address: " + err.Error(), Permanent: true}
	}
	if err := m.AddToFormat(oneLine(d.Contact.Name, 200), to); err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: "invalid recipient: " + err.Error(), Permanent: true}
	}
	if s.plusAddressing {
		local, domain, _ := strings.Cut(s.address, "@")
		if err := m.ReplyToFormat(oneLine(s.fromName, 200), local+"+c_"+c.token(d.Account.ID, d.Message.ConversationID)+"@"+domain); err != nil {
			return conversation.Receipt{}, &conversation.DeliveryError{Code: CodeBadAccount, Message: "invalid reply address: " + err.Error(), Permanent: true}
		}
	}
	m.Subject(oneLine(subject, maxSubjectBytes))
	if th.inReplyTo != "" {
		m.SetGenHeader(gomail.HeaderInReplyTo, "<"+th.inReplyTo+">")
		m.SetGenHeader(gomail.HeaderReferences, "<"+strings.Join(th.references, "> <")+">")
	}
	m.SetGenHeader(gomail.Header("Content-Language"), th.lang)
	m.SetGenHeader(gomail.HeaderXMailer, "Conversa")
	if automatic {
		m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-replied")
		m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	}
	if notification {
		m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
		m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
		if d.Contact.ID > 0 {
			h, oneClick := c.listUnsubscribe(unsubscribe{tenantID: d.Message.TenantID, accountID: d.Account.ID, contactID: d.Contact.ID, purpose: purpose}, s.address)
			m.SetGenHeader(gomail.HeaderListUnsubscribe, h)
			if oneClick {
				m.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
			}
		}
	}
	m.SetBodyString(gomail.TypeTextPlain, body.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, body.HTML)
	for _, f := range body.Files {
		if c.deps.Media == nil {
			return conversation.Receipt{}, &conversation.DeliveryError{Message: "no media store to read attachments from", Permanent: true}
		}
		rc, err := c.deps.Media.Open(ctx, d.Message.TenantID, f.Key)
		if err != nil {
			if conversation.IsNotFound(err) {
				return conversation.Receipt{}, &conversation.DeliveryError{Message: "attachment " + f.Filename + " is not in the media store", Permanent: true}
			}
			return conversation.Receipt{}, fmt.Errorf("open attachment: %w", err)
		}
		name := f.Filename
		if name == "" {
			name = "file"
		}
		err = m.AttachReader(name, rc, gomail.WithFileContentType(gomail.ContentType(f.ContentType)))
		rc.Close()
		if err != nil {
			return conversation.Receipt{}, fmt.Errorf("attach %s: %w", name, err)
		}
	}

	if automatic {
		if err := c.allowAutoreply(ctx, d, to, s.autoreplyInterval); err != nil {
			return conversation.Receipt{}, err
		}
	}
	client, err := c.smtpClient(s)
	if err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Code: CodeBadAccount, Message: "SMTP settings: " + err.Error(), Permanent: true}
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	if err := client.DialAndSendWithContext(sctx, m); err != nil {
		c.logger.Warn("email not sent", "account", d.Account.ID, "message", d.Message.ID, "err", err)
		return conversation.Receipt{}, smtpError(err)
	}
	c.observe(StageSent, d.Account.ID, 0, th.inReplyTo, time.Since(start))
	c.logger.Debug("email sent", "account", d.Account.ID, "message", d.Message.ID, "message_id", msgID, "automatic", automatic, "duration", time.Since(start))
	return conversation.Receipt{ProviderID: msgID, Status: conversation.StatusSent}, nil
}

// allowAutoreply takes the sender's automatic-reply slot for d.Message, or
// refuses the send. A retry of the message that took the slot is allowed.
func (c *Channel) allowAutoreply(ctx context.Context, d conversation.Delivery, to string, every time.Duration) error {
	if c.deps.Limiter == nil {
		return nil
	}
	now := time.Now()
	c.grantedMu.Lock()
	at, ok := c.granted[d.Message.ID]
	if len(c.granted) > 10000 {
		for id, t := range c.granted {
			if now.Sub(t) > every {
				delete(c.granted, id)
			}
		}
	}
	c.grantedMu.Unlock()
	if ok && now.Sub(at) < every {
		return nil
	}
	okay, _, err := c.deps.Limiter.Allow(ctx, "email:autoreply:"+strconv.FormatInt(d.Account.ID, 10)+":"+to, 1, every)
	if err != nil {
		return fmt.Errorf("autoreply limit: %w", err)
	}
	if !okay {
		c.logger.Info("automatic reply not sent: one went to this sender recently (RFC 3834)", "account", d.Account.ID, "message", d.Message.ID, "interval", every)
		return &conversation.DeliveryError{Code: CodeAutoreplyLimit, Permanent: true,
			Message: fmt.Sprintf("not sent: an automatic reply went to %s less than %s ago", to, every)}
	}
	c.grantedMu.Lock()
	c.granted[d.Message.ID] = now
	c.grantedMu.Unlock()
	return nil
}

// messageID returns the Message-ID of d.Message, without brackets: the same
// on every attempt, so that a repeated send is one email to the receiving
// servers, and unguessable across deployments.
func (c *Channel) messageID(d conversation.Delivery, address string) string {
	_, domain, _ := strings.Cut(address, "@")
	mac := hmac.New(sha256.New, c.cfg.TokenKey)
	fmt.Fprintf(mac, "message-id:%d:%d:%d", d.Message.TenantID, d.Account.ID, d.Message.ID)
	return fmt.Sprintf("conversa.%d.%d.%s@%s", d.Message.TenantID, d.Message.ID, hex.EncodeToString(mac.Sum(nil))[:12], domain)
}

// token returns the reply-address token of a conversation at an account:
// "<conversation id>x<10 hex digits of its HMAC>", so that an inbound email
// names the conversation it answers and a guessed token does not verify.
func (c *Channel) token(accountID, conversationID int64) string {
	mac := hmac.New(sha256.New, c.cfg.TokenKey)
	fmt.Fprintf(mac, "reply:%d:%d", accountID, conversationID)
	return strconv.FormatInt(conversationID, 10) + "x" + hex.EncodeToString(mac.Sum(nil))[:10]
}

func (c *Channel) smtpClient(s settings) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.smtpPort),
		gomail.WithTimeout(c.cfg.Timeout),
		gomail.WithTLSConfig(s.tlsConfig(s.smtpHost)),
	}
	switch s.smtpTLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSStart:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.smtpUser != "" {
		// Over TLS the strongest mechanism the server offers; without TLS
		// (loopback only) PLAIN, which discovery refuses to pick.
		mech := gomail.SMTPAuthAutoDiscover
		if s.smtpTLS == TLSNone {
			mech = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(s.smtpUser), gomail.WithPassword(s.smtpPassword))
	}
	return gomail.NewClient(s.smtpHost, opts...)
}

// smtpReplyRE finds the server's reply in go-mail's error text, which
// quotes it: 550 "5.1.1 <x@y>: Recipient address rejected".
var smtpReplyRE = regexp.MustCompile(`\b([45][0-9][0-9]) "?([^"]*)"?`)

// smtpError turns a go-mail error into the channel's terms: a server's
// 5xx reply is permanent, with the reply as the message; 4xx and network
// errors are temporary.
func smtpError(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return fmt.Errorf("send email: %w", err)
	}
	code := se.ErrorCode()
	reply := oneLine(se.Error(), 500)
	if m := smtpReplyRE.FindStringSubmatch(se.Error()); m != nil {
		reply = m[1] + " " + m[2]
	}
	reply = oneLine(reply, 500)
	switch {
	case code >= 500:
		return &conversation.DeliveryError{Code: strconv.Itoa(code), Message: reply, Permanent: true}
	case code >= 400:
		return &conversation.DeliveryError{Code: strconv.Itoa(code), Message: reply}
	}
	return fmt.Errorf("send email: %w", err)
}

package email

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"conversa/conversation"
)

// Letter is an email to a person of the tenant's staff (an agent, a
// lead, a manager), not to a customer: it belongs to no conversation and
// no contact, and it is sent as it is written.
type Letter struct {
	TenantID int64
	// Key names the letter: the same key, from the same account, has the
	// same Message-ID, so that a repeated send is one email to the
	// receiving servers.
	Key      string
	To, Name string
	// Language is the letter's language tag ("es", "en-US"); Spanish when
	// empty or unknown.
	Language string
	Subject  string
	Text     string
	// HTML is an HTML fragment rendered already (a template's email
	// variant); without it the HTML alternative is made from Text.
	HTML string
}

// SendLetter sends l from the account's mailbox through its SMTP server
// and returns its Message-ID, without brackets. The letter is automatic
// mail that expects no answer (Auto-Submitted: auto-generated) and
// carries no unsubscribe link: its reader is staff of the tenant, told of
// their work. Errors are those of Send: a *conversation.DeliveryError,
// Permanent for invalid settings or addresses and for a 5xx reply; any
// other error is temporary. It is safe for concurrent use.
func (c *Channel) SendLetter(ctx context.Context, acct conversation.ChannelAccount, l Letter) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if acct.Kind != conversation.ChannelEmail || acct.TenantID != l.TenantID {
		return "", &conversation.DeliveryError{Code: CodeBadAccount, Message: fmt.Sprintf("account %d is no email account of tenant %d", acct.ID, l.TenantID), Permanent: true}
	}
	s, err := c.parseSettings(acct)
	if err != nil {
		return "", &conversation.DeliveryError{Code: CodeBadAccount, Message: "the mailbox settings are invalid: " + conversation.ErrorMessage(err), Permanent: true}
	}
	to, err := conversation.NormalizeAddress(conversation.ChannelEmail, l.To)
	if err != nil || !strings.Contains(to, "@") {
		return "", &conversation.DeliveryError{Message: fmt.Sprintf("%q is not an email address", l.To), Permanent: true}
	}
	lang := "es"
	if strings.HasPrefix(strings.ToLower(l.Language), "en") {
		lang = "en"
	}
	subject := cmp.Or(oneLine(l.Subject, maxSubjectBytes), s.fromName, s.address)
	body, err := RenderHTML([]conversation.Part{conversation.TextPart(l.Text)}, lang, subject, l.HTML)
	if err != nil {
		return "", &conversation.DeliveryError{Message: err.Error(), Permanent: true}
	}

	msgID := c.letterID(acct.ID, l, s.address)
	m := gomail.NewMsg()
	m.SetMessageIDWithValue(msgID)
	m.SetDateWithValue(time.Now())
	if err := m.FromFormat(oneLine(s.fromName, 200), s.address); err != nil {
		return "", &conversation.DeliveryError{Code: CodeBadAccount, Message: "invalid From address: " + err.Error(), Permanent: true}
	}
	if err := m.AddToFormat(oneLine(l.Name, 200), to); err != nil {
		return "", &conversation.DeliveryError{Message: "invalid recipient: " + err.Error(), Permanent: true}
	}
	m.Subject(subject)
	m.SetGenHeader(gomail.Header("Content-Language"), lang)
	m.SetGenHeader(gomail.HeaderXMailer, "Conversa")
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(gomail.TypeTextPlain, body.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, body.HTML)

	client, err := c.smtpClient(s)
	if err != nil {
		return "", &conversation.DeliveryError{Code: CodeBadAccount, Message: "SMTP settings: " + err.Error(), Permanent: true}
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	if err := client.DialAndSendWithContext(sctx, m); err != nil {
		c.logger.Warn("letter not sent", "account", acct.ID, "tenant", l.TenantID, "err", err)
		return "", smtpError(err)
	}
	c.observe(StageSent, acct.ID, 0, "", time.Since(start))
	c.logger.Debug("letter sent", "account", acct.ID, "tenant", l.TenantID, "message_id", msgID, "duration", time.Since(start))
	return msgID, nil
}

// letterID returns the Message-ID of a letter, without brackets: the same
// for its key at the account on every attempt, and unguessable across
// deployments.
func (c *Channel) letterID(accountID int64, l Letter, address string) string {
	_, domain, _ := strings.Cut(address, "@")
	mac := hmac.New(sha256.New, c.cfg.TokenKey)
	fmt.Fprintf(mac, "letter:%d:%d:%s", l.TenantID, accountID, l.Key)
	return fmt.Sprintf("conversa.staff.%d.%s@%s", l.TenantID, hex.EncodeToString(mac.Sum(nil))[:20], domain)
}

package email_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"conversa/channels/email"
	"conversa/conversation"
	"conversa/internal/testenv"
)

func rawEmail(from, id, subject, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: soporte@conversa.test\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\nAuto-Submitted: auto-generated\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		from, subject, time.Now().Format(time.RFC1123Z), id, body))
}

// TestRestart: a node that stops and starts again neither misses the
// emails that arrived meanwhile nor reads again the ones it had.
func TestRestart(t *testing.T) {
	e := newEnv(t, envOptions{noBot: true})
	ctx := deadline(t, 60*time.Second)
	e.appendRaw("INBOX", rawEmail("a@cliente.test", "r1@cliente.test", "uno", "uno"))
	e.inbound(ctx, 1)
	e.stopRun()
	e.appendRaw("INBOX", rawEmail("a@cliente.test", "r2@cliente.test", "dos", "dos"))
	e.appendRaw("INBOX", rawEmail("a@cliente.test", "r3@cliente.test", "tres", "tres"))

	// A new node on the same store.
	e2 := newEnv(t, envOptions{noBot: true, store: e.store, noRun: true})
	e2.tenant, e2.acct, e2.support, e2.pw = e.tenant, e.acct, e.support, e.pw
	e2.run()
	in := e2.inbound(ctx, 3)
	e2.appendRaw("INBOX", rawEmail("a@cliente.test", "r4@cliente.test", "cuatro", "cuatro"))
	in = e2.inbound(ctx, 4)
	var got []string
	for _, m := range in {
		got = append(got, m.Meta[email.MetaMessageID])
	}
	if strings.Join(got, " ") != "r1@cliente.test r2@cliente.test r3@cliente.test r4@cliente.test" {
		t.Errorf("ingested %v", got)
	}
	if strings.Contains(e.logs.String()+e2.logs.String(), "already ingested") {
		t.Error("an email was read twice")
	}
}

// TestUIDValidityChange: the watched folder is deleted and created again
// (new UIDVALIDITY) with the same emails and a new one: the known ones are
// dropped as duplicates, the new one is ingested, nothing is lost.
func TestUIDValidityChange(t *testing.T) {
	e := newEnv(t, envOptions{noBot: true, settings: map[string]string{email.SettingIMAPMailbox: "Soporte"}, noRun: true})
	ctx := deadline(t, 60*time.Second)
	c := e.imap(e.support, e.pw)
	if err := c.Create("Soporte", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	one, two := rawEmail("b@cliente.test", "v1@cliente.test", "uno", "uno"), rawEmail("b@cliente.test", "v2@cliente.test", "dos", "dos")
	e.appendRaw("Soporte", one)
	e.appendRaw("Soporte", two)
	e.run()
	e.inbound(ctx, 2)
	e.stopRun()
	if err := c.Delete("Soporte").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Soporte", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	e.appendRaw("Soporte", one)
	e.appendRaw("Soporte", two)
	e.appendRaw("Soporte", rawEmail("b@cliente.test", "v3@cliente.test", "tres", "tres"))
	e.run()
	in := e.inbound(ctx, 3)
	if len(in) != 3 || in[2].Meta[email.MetaMessageID] != "v3@cliente.test" {
		t.Errorf("ingested %d messages, the last %v", len(in), in[len(in)-1].Meta)
	}
	if !strings.Contains(e.logs.String(), "UIDVALIDITY changed") {
		t.Error("no log line about the UIDVALIDITY change")
	}
}

// dropProxy forwards IMAP between the channel and Dovecot and cuts the
// first connection in the middle of the first message body it carries.
type dropProxy struct {
	l       net.Listener
	target  string
	dropped atomic.Bool
	wg      sync.WaitGroup
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{l: l, target: target}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer s.Close()
			go func() { io.Copy(s, c); s.Close() }()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 {
					chunk := buf[:n]
					if i := bytes.Index(chunk, []byte("BODY[] {")); i >= 0 && !p.dropped.Swap(true) {
						// Cut inside the FETCH response, before the body's
						// literal: go-imap v2.0.0-beta.8 races on its
						// buffer when a connection ends inside a literal.
						c.Write(chunk[:i+4])
						return // mid-fetch: both connections close
					}
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestDropMidFetch: the IMAP connection breaks in the middle of a FETCH;
// the channel reconnects and ingests the email once.
func TestDropMidFetch(t *testing.T) {
	mailAddr := newEnvMail(t)
	p := newDropProxy(t, mailAddr)
	e := newEnv(t, envOptions{noBot: true, imapAddr: p.l.Addr().String()})
	ctx := deadline(t, 60*time.Second)
	e.appendRaw("INBOX", rawEmail("c@cliente.test", "d1@cliente.test", "uno", "uno"))
	in := e.inbound(ctx, 1)
	if !p.dropped.Load() {
		t.Fatal("the proxy never cut a fetch")
	}
	e.appendRaw("INBOX", rawEmail("c@cliente.test", "d2@cliente.test", "dos", "dos"))
	in = e.inbound(ctx, 2)
	if len(in) != 2 || in[0].Meta[email.MetaMessageID] != "d1@cliente.test" {
		t.Errorf("ingested %d messages: %v", len(in), in[0].Meta)
	}
	if !strings.Contains(e.logs.String(), "reconnecting") {
		t.Error("no log line about the reconnect")
	}
}

func newEnvMail(t *testing.T) string {
	return testenv.Mail(t).IMAPAddr
}

// TestLargeAndWideEmails: a 23 MB email with an attachment over the media
// limit is stored with a note instead of the file; an email larger than
// MaxEmailBytes is stored from its header and stays in the mailbox; an
// email to 500 recipients is answered to its sender only.
func TestLargeAndWideEmails(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *email.Config) { c.MaxEmailBytes = 24 << 20 }})
	ctx := deadline(t, 120*time.Second)

	big := bytes.Repeat([]byte("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"), 23<<20/78)
	raw := []byte("From: grande@cliente.test\r\nTo: soporte@conversa.test\r\nSubject: video\r\nMessage-ID: <big-1@cliente.test>\r\n" +
		"Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nadjunto el video\r\n" +
		"--zz\r\nContent-Type: video/mp4\r\nContent-Disposition: attachment; filename=video.mp4\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw = append(append(raw, big...), "--zz--\r\n"...)
	e.appendRaw("INBOX", raw)
	huge := append([]byte("From: enorme@cliente.test\r\nSubject: enorme\r\nMessage-ID: <huge-1@cliente.test>\r\nContent-Type: text/plain\r\n\r\n"), bytes.Repeat([]byte("x"), 25<<20)...)
	e.appendRaw("INBOX", huge)

	var to []string
	cust := e.customer("muchos")
	for i := range 499 {
		to = append(to, fmt.Sprintf("otro%d@cliente.test", i))
	}
	e.appendRaw("INBOX", []byte("From: "+cust.addr+"\r\nTo: "+strings.Join(to, ", ")+"\r\nCc: soporte@conversa.test\r\nSubject: hola\r\nMessage-ID: <wide-1@cliente.test>\r\n\r\nhola\r\n"))

	in := e.inbound(ctx, 3)
	byID := map[string]conversation.Message{}
	for _, m := range in {
		byID[m.Meta[email.MetaMessageID]] = m
	}
	b := byID["big-1@cliente.test"]
	if len(b.Parts) != 2 || b.Parts[1].Media == nil || b.Parts[1].Media.Key != "" || !strings.Contains(b.Parts[1].Media.Note, "larger") {
		t.Errorf("23 MB email: parts %+v, media %+v", b.Parts, b.Parts[len(b.Parts)-1].Media)
	}
	h := byID["huge-1@cliente.test"]
	if !strings.Contains(conversation.PartsText(h.Parts), "stays in the mailbox") || h.Meta[conversation.MetaNoReply] == "" {
		t.Errorf("oversized email: %q %v", conversation.PartsText(h.Parts), h.Meta)
	}
	if w := byID["wide-1@cliente.test"]; w.Meta[email.MetaRecipients] != "500" {
		t.Errorf("wide email meta %v", w.Meta)
	}
	raw, err := cust.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reply := readEmail(t, raw)
	if got, _ := reply.AddressList("To"); len(got) != 1 || got[0].Address != cust.addr || reply.GetHeader("Cc") != "" {
		t.Errorf("reply To %v Cc %q, want the sender only", got, reply.GetHeader("Cc"))
	}
	e.idle(ctx)
	if n := len(e.outbound(ctx)); n != 1 {
		t.Errorf("%d outbound messages, want 1", n)
	}
	// The others are flagged read; the oversized one is left as it was.
	c := e.imap(e.support, e.pw)
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	unseen, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if uids := unseen.AllUIDs(); len(uids) != 1 || uids[0] != 2 {
		t.Errorf("unread UIDs %v, want only the oversized email (2)", uids)
	}
}

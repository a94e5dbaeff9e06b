package email_test

import (
	"bufio"
	"bytes"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"conversa/channels/email"
)

// noIdleProxy forwards IMAP between the channel and Dovecot and hides
// IDLE: it is taken out of every CAPABILITY list Dovecot sends, as a server
// without IDLE would send them. It counts the IDLE commands clients send
// anyway.
type noIdleProxy struct {
	l      net.Listener
	idles  atomic.Int32
	hidden atomic.Int32
	wg     sync.WaitGroup
}

var idleCap = regexp.MustCompile(`(?i) IDLE\b`)

func newNoIdleProxy(t *testing.T, target string) *noIdleProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &noIdleProxy{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() {
					r := bufio.NewReader(c)
					for {
						line, err := r.ReadBytes('\n')
						if f := bytes.Fields(line); len(f) == 2 && strings.EqualFold(string(f[1]), "IDLE") {
							p.idles.Add(1)
						}
						if _, werr := s.Write(line); werr != nil || err != nil {
							s.Close()
							return
						}
					}
				}()
				r := bufio.NewReader(s)
				for {
					line, err := r.ReadBytes('\n')
					if bytes.Contains(bytes.ToUpper(line), []byte("CAPABILITY")) && idleCap.Match(line) {
						line = idleCap.ReplaceAll(line, nil)
						p.hidden.Add(1)
					}
					if _, werr := c.Write(line); werr != nil || err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); p.wg.Wait() })
	return p
}

// TestPollingWithoutIdle: a server that does not offer IDLE is polled;
// new mail is read within the poll interval and no IDLE is ever sent.
func TestPollingWithoutIdle(t *testing.T) {
	p := newNoIdleProxy(t, newEnvMail(t))
	e := newEnv(t, envOptions{noBot: true, imapAddr: p.l.Addr().String(), cfg: func(c *email.Config) { c.PollInterval = 200 * time.Millisecond }})
	ctx := deadline(t, 60*time.Second)
	e.appendRaw("INBOX", rawEmail("p@cliente.test", "poll-1@cliente.test", "uno", "uno"))
	e.inbound(ctx, 1)
	// Mail that arrives while the channel waits is read by the next poll.
	e.appendRaw("INBOX", rawEmail("p@cliente.test", "poll-2@cliente.test", "dos", "dos"))
	in := e.inbound(ctx, 2)
	if in[1].Meta[email.MetaMessageID] != "poll-2@cliente.test" {
		t.Errorf("second email %v", in[1].Meta)
	}
	if !strings.Contains(e.logs.String(), "the server has no IDLE; polling") {
		t.Error("no log line about polling")
	}
	if p.hidden.Load() == 0 || p.idles.Load() != 0 {
		t.Errorf("IDLE hidden from %d capability lists, %d IDLE commands sent", p.hidden.Load(), p.idles.Load())
	}
}

// TestProcessedMail: with processed_folder, a processed email is flagged
// \Seen and moved there (the folder created on first use); without it, the
// email stays in the inbox, flagged \Seen.
func TestProcessedMail(t *testing.T) {
	for _, folder := range []string{"Procesados", ""} {
		name := "moved to " + folder
		if folder == "" {
			name = "flagged in the inbox"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{noBot: true, settings: map[string]string{email.SettingProcessedFolder: folder}})
			ctx := deadline(t, 60*time.Second)
			e.appendRaw("INBOX", rawEmail("f@cliente.test", "proc-1@cliente.test", "uno", "uno"))
			e.inbound(ctx, 1)
			want := folder
			if want == "" {
				want = "INBOX"
			}
			c := e.imap(e.support, e.pw)
			defer c.Close()
			for {
				inbox, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
				if err != nil {
					t.Fatal(err)
				}
				if st, err := c.Status(want, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait(); err == nil &&
					*st.NumMessages == 1 && *st.NumUnseen == 0 && (folder == "" || *inbox.NumMessages == 0) {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("the email is not flagged seen in %s (inbox holds %d)", want, *inbox.NumMessages)
				case <-time.After(50 * time.Millisecond):
				}
			}
			if _, err := c.Select(want, nil).Wait(); err != nil {
				t.Fatal(err)
			}
			section := &imap.FetchItemBodySection{Peek: true}
			msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
			if err != nil || len(msgs) != 1 {
				t.Fatalf("fetch: %v", err)
			}
			if !strings.Contains(string(msgs[0].FindBodySection(section)), "proc-1@cliente.test") {
				t.Errorf("%s holds another email", want)
			}
			if !hasFlag(msgs[0].Flags, imap.FlagSeen) {
				t.Errorf("flags %v, want \\Seen", msgs[0].Flags)
			}
			// Nothing is read twice after a restart.
			e.stopRun()
			e.appendRaw("INBOX", rawEmail("f@cliente.test", "proc-2@cliente.test", "dos", "dos"))
			e.run()
			if in := e.inbound(ctx, 2); len(in) != 2 || in[1].Meta[email.MetaMessageID] != "proc-2@cliente.test" {
				t.Errorf("after a restart: %d messages", len(in))
			}
			if strings.Contains(e.logs.String(), "already ingested") {
				t.Error("an email was read twice")
			}
		})
	}
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, g := range flags {
		if g == f {
			return true
		}
	}
	return false
}

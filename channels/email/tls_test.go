package email_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/channels/email"
	"conversa/conversation"
	"conversa/internal/testenv"
)

// testCA is a certificate authority made for one test, and a server
// certificate it signed for 127.0.0.1.
type testCA struct {
	pem    string // the CA certificate
	server tls.Certificate
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mail.conversa.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		pem:    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		server: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey},
	}
}

// tlsFront puts TLS in front of the test Dovecot or Postfix, which serve
// plain text: implicit TLS (IMAPS, SMTPS) or, for SMTP, STARTTLS. It counts
// the TLS handshakes that completed.
type tlsFront struct {
	l          net.Listener
	handshakes atomic.Int32
	wg         sync.WaitGroup
}

func newTLSFront(t *testing.T, target string, cert tls.Certificate, starttls bool) *tlsFront {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFront{l: l}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				f.serve(c, target, cfg, starttls)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); f.wg.Wait() })
	return f
}

func (f *tlsFront) addr() string { return f.l.Addr().String() }

func (f *tlsFront) serve(c net.Conn, target string, cfg *tls.Config, starttls bool) {
	if starttls {
		// Speak SMTP up to STARTTLS; Postfix takes over after it, with the
		// client's second EHLO.
		r := bufio.NewReader(c)
		io.WriteString(c, "220 mx.conversa.test ESMTP\r\n")
		for done := false; !done; {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
			case "EHLO":
				io.WriteString(c, "250-mx.conversa.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
			case "HELO", "NOOP", "RSET":
				io.WriteString(c, "250 OK\r\n")
			case "STARTTLS":
				io.WriteString(c, "220 2.0.0 Ready to start TLS\r\n")
				done = true
			default:
				io.WriteString(c, "530 5.7.0 Must issue a STARTTLS command first\r\n")
				if verb == "QUIT" {
					return
				}
			}
		}
	}
	tc := tls.Server(c, cfg)
	if err := tc.Handshake(); err != nil {
		return
	}
	f.handshakes.Add(1)
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	if starttls {
		// Postfix's greeting: the client had the proxy's.
		r := bufio.NewReader(s)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "220 ") {
				break
			}
		}
	}
	go func() { io.Copy(s, tc); s.Close() }()
	io.Copy(tc, s)
}

// TestTLS: the mailbox is read over IMAPS and answered over SMTP with
// STARTTLS, and over SMTPS, with certificate verification on, trusting the
// test's CA through tls_ca; a server whose certificate another CA signed is
// refused on both.
func TestTLS(t *testing.T) {
	good, other := newTestCA(t, "Conversa test CA"), newTestCA(t, "Some other CA")
	mail := testenv.Mail(t)
	imaps := newTLSFront(t, mail.IMAPAddr, good.server, false)
	submission := newTLSFront(t, mail.SMTPAddr, good.server, true)
	smtps := newTLSFront(t, mail.SMTPAddr, good.server, false)

	t.Run("verified", func(t *testing.T) {
		e := newEnv(t, envOptions{imapAddr: imaps.addr(), smtpAddr: submission.addr(), settings: map[string]string{
			email.SettingIMAPTLS: email.TLSImplicit, email.SettingSMTPTLS: email.TLSStart, email.SettingTLSCA: good.pem}})
		ctx := deadline(t, 60*time.Second)
		cust := e.customer("tls")
		e.send(ctx, cust.addr, "tls-1@cliente.test", "Consulta segura", "hola", nil)
		raw, err := cust.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := readEmail(t, raw).GetHeader("In-Reply-To"); ids(got) != "tls-1@cliente.test" {
			t.Errorf("reply In-Reply-To %q", got)
		}
		if imaps.handshakes.Load() == 0 || submission.handshakes.Load() == 0 {
			t.Errorf("TLS handshakes: IMAPS %d, STARTTLS %d", imaps.handshakes.Load(), submission.handshakes.Load())
		}

		// The same account over SMTPS (implicit TLS).
		a := e.acct
		a.Settings = cloneSettings(a.Settings)
		_, port, _ := net.SplitHostPort(smtps.addr())
		a.Settings[email.SettingSMTPTLS], a.Settings[email.SettingSMTPPort] = email.TLSImplicit, port
		if _, err := e.ch.Send(ctx, agentDelivery(e, a, cust.addr, "por SMTPS")); err != nil {
			t.Fatalf("send over SMTPS: %v", err)
		}
		raw, err = cust.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := readEmail(t, raw).Text; !strings.Contains(got, "por SMTPS") || smtps.handshakes.Load() == 0 {
			t.Errorf("SMTPS email text %q, %d handshakes", got, smtps.handshakes.Load())
		}
	})

	t.Run("wrong certificate refused", func(t *testing.T) {
		e := newEnv(t, envOptions{noBot: true, imapAddr: imaps.addr(), smtpAddr: submission.addr(), settings: map[string]string{
			email.SettingIMAPTLS: email.TLSImplicit, email.SettingSMTPTLS: email.TLSStart, email.SettingTLSCA: other.pem}})
		ctx := deadline(t, 60*time.Second)
		e.appendRaw("INBOX", rawEmail("x@cliente.test", "tls-2@cliente.test", "uno", "uno"))
		for !strings.Contains(e.logs.String(), "certificate signed by unknown authority") {
			select {
			case <-ctx.Done():
				t.Fatal("no log line about the refused IMAP certificate")
			case <-time.After(20 * time.Millisecond):
			}
		}
		ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{AccountID: e.acct.ID, Limit: 10})
		if err != nil || len(ms) != 0 {
			t.Errorf("%d messages read from a server that was not verified (%v)", len(ms), err)
		}
		cust := e.customer("tlsmal")
		_, err = e.ch.Send(ctx, agentDelivery(e, e.acct, cust.addr, "no debe salir"))
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("send through a server with a wrong certificate: %v", err)
		}
	})

	t.Run("tls_ca must be CA certificates", func(t *testing.T) {
		ch, err := email.New(email.Config{TokenKey: make([]byte, 32)}, email.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		leaf := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: good.server.Certificate[0]}))
		for name, v := range map[string]string{"garbage": "not a certificate", "a server certificate": leaf, "a key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
			a := conversation.ChannelAccount{Kind: conversation.ChannelEmail, Key: "soporte@conversa.test", Settings: map[string]string{
				email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingIMAPPassword: "p",
				email.SettingSMTPHost: "smtp.example.com", email.SettingTLSCA: v}}
			if err := ch.ValidateAccount(&a); conversation.ErrorCode(err) != conversation.EINVALID || !strings.Contains(err.Error(), email.SettingTLSCA) {
				t.Errorf("%s: %v, want invalid tls_ca", name, err)
			}
		}
	})
}

func cloneSettings(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// agentDelivery is an agent's message to address, as the worker hands it
// to the channel, outside any conversation.
func agentDelivery(e *env, a conversation.ChannelAccount, address, text string) conversation.Delivery {
	to := conversation.Identity{Channel: conversation.ChannelEmail, Address: address}
	return conversation.Delivery{Account: a, To: to, Contact: conversation.Contact{Name: "Cliente", Identities: []conversation.Identity{to}},
		Message: conversation.Message{ID: time.Now().UnixNano(), TenantID: e.tenant.ID, Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 1, Name: "Luis"},
			Parts: []conversation.Part{conversation.TextPart(text)}}}
}

package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"conversa/conversation"
)

// position is how far a mailbox has been read, kept in the store under
// positionName: every email with a UID up to UID, in the mailbox of
// UIDValidity, has been ingested. Since is the arrival time of the latest
// ingested email, where a re-read starts when UIDVALIDITY changes.
type position struct {
	UIDValidity uint32    `json:"uidvalidity"`
	UID         uint32    `json:"uid"`
	Since       time.Time `json:"since"`
}

func positionName(accountID int64, mailbox string) string {
	return "email:" + strconv.FormatInt(accountID, 10) + ":" + mailbox
}

// errStop ends a mailbox's watch without a reconnect: the account is gone
// or disabled.
var errStop = errors.New("the account no longer takes mail")

// watcher watches one mailbox.
type watcher struct {
	c      *Channel
	acct   conversation.ChannelAccount
	s      settings
	logger *slog.Logger
}

// run watches the mailbox until ctx ends, reconnecting with backoff after
// errors.
func (w *watcher) run(ctx context.Context) {
	backoff := w.c.cfg.ReconnectMin
	for {
		start := time.Now()
		err := w.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStop) {
			w.logger.Warn("mailbox no longer watched", "err", err)
			return
		}
		if time.Since(start) > 2*w.c.cfg.ReconnectMax || time.Since(start) > time.Minute {
			backoff = w.c.cfg.ReconnectMin
		}
		// Equal jitter: between half and all of the backoff.
		wait := backoff/2 + rand.N(backoff/2+1)
		w.logger.Warn("mailbox connection ended; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, w.c.cfg.ReconnectMax)
	}
}

func (w *watcher) dial() (*imapclient.Client, chan struct{}, error) {
	updates := make(chan struct{}, 1)
	opts := &imapclient.Options{
		Dialer:    &net.Dialer{Timeout: w.c.cfg.Timeout},
		TLSConfig: w.s.tlsConfig(w.s.imapHost),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					w.c.observe(StageNotified, w.acct.ID, 0, "", 0)
					select {
					case updates <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	addr := net.JoinHostPort(w.s.imapHost, strconv.Itoa(w.s.imapPort))
	var c *imapclient.Client
	var err error
	switch w.s.imapTLS {
	case TLSImplicit:
		c, err = imapclient.DialTLS(addr, opts)
	case TLSStart:
		c, err = imapclient.DialStartTLS(addr, opts)
	default:
		c, err = imapclient.DialInsecure(addr, opts)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return c, updates, nil
}

// session is one connection: log in, select, read what is new, then wait
// for more with IDLE (or by polling) until an error or the end of ctx.
func (w *watcher) session(ctx context.Context) error {
	client, updates, err := w.dial()
	if err != nil {
		return err
	}
	defer client.Close()
	// Closing the connection unblocks whatever command is waiting.
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()

	if err := client.Login(w.s.imapUser, w.s.imapPassword).Wait(); err != nil {
		return fmt.Errorf("log in as %s: %w", w.s.imapUser, err)
	}
	if w.s.processedFolder != "" {
		// Already there is fine; anything else shows on the first move.
		_ = client.Create(w.s.processedFolder, nil).Wait()
	}
	sel, err := client.Select(w.s.mailbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("select %s: %w", w.s.mailbox, err)
	}
	pos, err := w.loadPosition(ctx)
	if err != nil {
		return err
	}
	scan := false
	switch {
	case pos.UIDValidity == 0:
		// Never read: take what arrived since the account was connected.
		pos.Since, scan = w.acct.CreatedAt, true
		w.logger.Info("mailbox read for the first time", "since", pos.Since, "uidvalidity", sel.UIDValidity)
	case pos.UIDValidity != sel.UIDValidity:
		w.logger.Warn("mailbox UIDVALIDITY changed: its UIDs were renumbered; re-reading the mail that arrived since the last one ingested, duplicates dropped by Message-ID",
			"old", pos.UIDValidity, "new", sel.UIDValidity, "since", pos.Since)
		scan = true
	}
	w.logger.Debug("mailbox selected", "messages", sel.NumMessages, "uidnext", sel.UIDNext, "position", pos.UID)
	idle := client.Caps().Has(imap.CapIdle)
	if !idle {
		w.logger.Info("the server has no IDLE; polling", "every", w.c.cfg.PollInterval)
	}
	for {
		if scan {
			if err := w.rescan(ctx, client, sel, &pos); err != nil {
				return err
			}
			scan = false
		} else if err := w.fetchNew(ctx, client, sel.UIDValidity, &pos); err != nil {
			return err
		}
		if err := w.wait(ctx, client, updates, idle); err != nil {
			return err
		}
	}
}

// wait returns when the mailbox may have new mail: the server said so
// during IDLE, or the poll interval passed.
func (w *watcher) wait(ctx context.Context, client *imapclient.Client, updates chan struct{}, idle bool) error {
	t := time.NewTimer(w.c.cfg.PollInterval)
	defer t.Stop()
	if !idle {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-updates:
		case <-t.C:
		}
		return client.Noop().Wait()
	}
	cmd, err := client.Idle()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-updates:
	case <-t.C:
	case <-client.Closed():
	}
	start := time.Now()
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("end idle: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	w.c.observe(StageIdleEnded, w.acct.ID, 0, "", time.Since(start))
	return ctx.Err()
}

// candidate is an email to read.
type candidate struct {
	uid      imap.UID
	size     int64
	internal time.Time
}

// fetchNew reads the emails after pos.UID, in UID order.
func (w *watcher) fetchNew(ctx context.Context, client *imapclient.Client, validity uint32, pos *position) error {
	set := imap.UIDSet{imap.UIDRange{Start: imap.UID(pos.UID + 1), Stop: 0}}
	start := time.Now()
	list, err := client.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
	if err != nil {
		return fmt.Errorf("list new mail: %w", err)
	}
	w.c.observe(StageListed, w.acct.ID, 0, "", time.Since(start))
	var cs []candidate
	for _, m := range list {
		if uint32(m.UID) > pos.UID {
			cs = append(cs, candidate{uid: m.UID, size: m.RFC822Size, internal: m.InternalDate})
		}
	}
	return w.readAll(ctx, client, validity, cs, pos)
}

// rescan reads the emails that arrived since pos.Since, in a mailbox read
// for the first time or whose UIDVALIDITY changed; a re-read email is a
// duplicate the service drops.
func (w *watcher) rescan(ctx context.Context, client *imapclient.Client, sel *imap.SelectData, pos *position) error {
	res, err := client.UIDSearch(&imap.SearchCriteria{Since: pos.Since.Add(-24 * time.Hour)}, nil).Wait()
	if err != nil {
		return fmt.Errorf("search mail since %s: %w", pos.Since.Format(time.DateOnly), err)
	}
	uids := res.AllUIDs()
	var cs []candidate
	if len(uids) > 0 {
		list, err := client.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
		if err != nil {
			return fmt.Errorf("list mail: %w", err)
		}
		for _, m := range list {
			if !m.InternalDate.Before(pos.Since.Truncate(time.Second)) {
				cs = append(cs, candidate{uid: m.UID, size: m.RFC822Size, internal: m.InternalDate})
			}
		}
	}
	pos.UIDValidity, pos.UID = sel.UIDValidity, 0
	if err := w.readAll(ctx, client, sel.UIDValidity, cs, pos); err != nil {
		return err
	}
	// Older mail is not ours to read: start after everything there was.
	if sel.UIDNext > 0 && uint32(sel.UIDNext)-1 > pos.UID {
		pos.UID = uint32(sel.UIDNext) - 1
	}
	return w.savePosition(ctx, *pos)
}

func (w *watcher) readAll(ctx context.Context, client *imapclient.Client, validity uint32, cs []candidate, pos *position) error {
	slices.SortFunc(cs, func(a, b candidate) int { return int(a.uid) - int(b.uid) })
	for _, cand := range cs {
		if err := ctx.Err(); err != nil {
			return err
		}
		ingested, err := w.read(ctx, client, cand)
		if ingested {
			// Saved even when filing the email failed after (a stop, a
			// dropped connection): the next read starts after it.
			pos.UIDValidity, pos.UID = validity, uint32(cand.uid)
			if cand.internal.After(pos.Since) {
				pos.Since = cand.internal
			}
			if serr := w.savePosition(ctx, *pos); serr != nil {
				return errors.Join(err, serr)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// read fetches, ingests and files one email. It reports whether the email
// is stored, also when filing it (the move or the flag) failed after.
func (w *watcher) read(ctx context.Context, client *imapclient.Client, cand candidate) (bool, error) {
	start := time.Now()
	tooLarge := cand.size > w.c.cfg.MaxEmailBytes
	section := &imap.FetchItemBodySection{Peek: true}
	if tooLarge {
		section.Specifier = imap.PartSpecifierHeader
	}
	msgs, err := client.Fetch(imap.UIDSetNum(cand.uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return false, fmt.Errorf("fetch uid %d: %w", cand.uid, err)
	}
	if len(msgs) == 0 {
		w.logger.Info("email gone before it was read (moved or deleted by someone else)", "uid", cand.uid)
		return true, nil // nothing to read again
	}
	raw := msgs[0].FindBodySection(section)
	fetched := time.Since(start)
	w.c.observe(StageFetched, w.acct.ID, uint32(cand.uid), "", fetched)
	keep, err := w.c.ingest(ctx, w.acct, w.s, raw, cand.internal, cand.size, tooLarge, w.logger.With("uid", cand.uid))
	if err != nil {
		return false, err
	}
	w.logger.Debug("email read", "uid", cand.uid, "size", cand.size, "fetch", fetched, "total", time.Since(start))
	if keep {
		return true, nil
	}
	// Flagged \Seen, then moved to the processed folder if there is one.
	uids := imap.UIDSetNum(cand.uid)
	if err := client.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		return true, fmt.Errorf("flag uid %d seen: %w", cand.uid, err)
	}
	if w.s.processedFolder != "" {
		if _, err := client.Move(uids, w.s.processedFolder).Wait(); err != nil {
			return true, fmt.Errorf("move uid %d to %s: %w", cand.uid, w.s.processedFolder, err)
		}
	}
	return true, nil
}

func (w *watcher) loadPosition(ctx context.Context) (position, error) {
	v, err := w.c.deps.Store.Setting(ctx, positionName(w.acct.ID, w.s.mailbox))
	if conversation.IsNotFound(err) {
		return position{}, nil
	}
	if err != nil {
		return position{}, fmt.Errorf("read mailbox position: %w", err)
	}
	var p position
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		w.logger.Error("mailbox position unreadable; reading the mailbox as new", "value", v, "err", err)
		return position{}, nil
	}
	return p, nil
}

func (w *watcher) savePosition(ctx context.Context, p position) error {
	b, _ := json.Marshal(p)
	// The email is ingested: record it even if ctx ended meanwhile.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.c.deps.Store.PutSetting(sctx, positionName(w.acct.ID, w.s.mailbox), string(b)); err != nil {
		return fmt.Errorf("save mailbox position: %w", err)
	}
	return nil
}

package email

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"conversa/conversation"
)

// Run implements channels.Runner: it watches every enabled email account of
// every tenant, one goroutine per mailbox, re-reading the accounts every
// RefreshInterval to start, restart (changed settings) and stop watchers. It
// returns nil when ctx ends, after every watcher has stopped.
func (c *Channel) Run(ctx context.Context) error {
	if c.deps.Service == nil || c.deps.Store == nil {
		return fmt.Errorf("email channel: Run needs a service and a store")
	}
	type running struct {
		fingerprint string
		cancel      context.CancelFunc
		done        chan struct{}
	}
	watchers := map[int64]*running{}
	var wg sync.WaitGroup
	defer func() {
		for _, r := range watchers {
			r.cancel()
		}
		wg.Wait()
	}()
	t := time.NewTicker(c.cfg.RefreshInterval)
	defer t.Stop()
	for {
		accts, err := c.accounts(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.logger.Warn("cannot list email accounts; keeping the current watchers", "err", err)
		} else {
			seen := map[int64]bool{}
			for _, a := range accts {
				s, err := c.parseSettings(a)
				if err != nil {
					c.logger.Error("email account not watched: invalid settings", "account", a.ID, "tenant", a.TenantID, "err", err)
					continue
				}
				fp := fingerprint(a)
				if r, ok := watchers[a.ID]; ok {
					select {
					case <-r.done:
						// It stopped by itself (the account was refused);
						// start again only when the account changes.
						if r.fingerprint == fp {
							seen[a.ID] = true
							continue
						}
					default:
						if r.fingerprint == fp {
							seen[a.ID] = true
							continue
						}
					}
					r.cancel()
					<-r.done
					delete(watchers, a.ID)
				}
				seen[a.ID] = true
				wctx, cancel := context.WithCancel(ctx)
				r := &running{fingerprint: fp, cancel: cancel, done: make(chan struct{})}
				watchers[a.ID] = r
				w := &watcher{c: c, acct: a, s: s, logger: c.logger.With("tenant", a.TenantID, "account", a.ID, "mailbox", a.Key)}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer close(r.done)
					c.watch(wctx, w)
				}()
			}
			for id, r := range watchers {
				if !seen[id] {
					r.cancel()
					<-r.done
					delete(watchers, id)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// watch runs w, under the mailbox's lock when there is a Locker, so that
// one node of a deployment watches each mailbox.
func (c *Channel) watch(ctx context.Context, w *watcher) {
	if c.deps.Locker == nil {
		w.run(ctx)
		return
	}
	key := "email:mailbox:" + strconv.FormatInt(w.acct.ID, 10)
	ttl := c.cfg.LockTTL
	for ctx.Err() == nil {
		lock, err := c.deps.Locker.TryLock(ctx, key, ttl)
		if err != nil {
			if !conversation.IsConflict(err) {
				w.logger.Warn("mailbox lock unavailable", "err", err)
			}
			t := time.NewTimer(ttl / 2)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			tick := time.NewTicker(ttl / 3)
			defer tick.Stop()
			for {
				select {
				case <-lctx.Done():
					return
				case <-tick.C:
					if err := lock.Extend(lctx, ttl); err != nil {
						w.logger.Warn("mailbox lock lost; another node may watch it", "err", err)
						cancel()
						return
					}
				}
			}
		}()
		w.run(lctx)
		cancel()
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = lock.Unlock(uctx)
		ucancel()
	}
}

// accounts returns the enabled email accounts of every tenant.
func (c *Channel) accounts(ctx context.Context) ([]conversation.ChannelAccount, error) {
	tenants, err := c.deps.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []conversation.ChannelAccount
	for _, t := range tenants {
		as, err := c.deps.Store.ListChannelAccounts(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.Kind == conversation.ChannelEmail && !a.Disabled {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// fingerprint changes when anything that matters to a watcher does.
func fingerprint(a conversation.ChannelAccount) string {
	b, _ := json.Marshal(struct {
		Key      string
		Name     string
		Settings map[string]string
	}{a.Key, a.Name, a.Settings})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

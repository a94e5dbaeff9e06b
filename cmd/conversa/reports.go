package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

// reportsBackfillCmd rebuilds the report aggregates of a period from the
// source tables: conversa reports backfill [--tenant S|ID] [--from DAY]
// [--to DAY]. It is safe while nodes run (see reports.Aggregates.Backfill).
func reportsBackfillCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("reports backfill", env)
	tenant := fs.String("tenant", "", "the tenant's slug or id (default: every tenant)")
	fromFlag := fs.String("from", "2000-01-01", "first day (UTC) or RFC 3339 time of the period")
	toFlag := fs.String("to", "", "last day (UTC, included) or RFC 3339 time (excluded) of the period (default: now)")
	if err := parse(fs, args); err != nil {
		return err
	}
	from, err := backfillTime("from", *fromFlag, false)
	if err != nil {
		return err
	}
	to := time.Now().UTC()
	if *toFlag != "" {
		if to, err = backfillTime("to", *toFlag, true); err != nil {
			return err
		}
	}
	return withStore(ctx, load, func(cs conversation.Store) error {
		store := cs.(durableStore) // what openStore opened
		var tenantID int64
		if *tenant != "" {
			t, err := store.TenantBySlug(ctx, *tenant)
			if id, perr := strconv.ParseInt(*tenant, 10, 64); conversation.IsNotFound(err) && perr == nil {
				t, err = store.Tenant(ctx, id)
			}
			if err != nil {
				return fmt.Errorf("tenant %q: %w", *tenant, err)
			}
			tenantID = t.ID
		}
		start := time.Now()
		if err := reports.NewService(store).Backfill(ctx, tenantID, from, to); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "rebuilt the report aggregates from %s to %s in %s\n", from.Format(time.RFC3339), to.Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// backfillTime reads an RFC 3339 time or a YYYY-MM-DD day (UTC); a day
// that ends a period is included.
func backfillTime(name, s string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, conversation.FieldError(name, "must be a YYYY-MM-DD day or an RFC 3339 time, not %q", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"conversa/adapters/api"
	"conversa/billing"
	"conversa/conversation"
)

// validateBilling checks the billing settings.
func (c *Config) validateBilling() error {
	var errs []error
	if _, err := time.LoadLocation(c.BillingZone); err != nil || c.BillingZone == "" {
		errs = append(errs, fmt.Errorf("billing_zone: %q is not an IANA time zone", c.BillingZone))
	}
	if c.BillingCloseAfterDays < 1 || c.BillingCloseAfterDays > 28 {
		errs = append(errs, errors.New("billing_close_after_days: must be 1 to 28"))
	}
	if c.OperatorTokenHash != "" {
		if b, err := hex.DecodeString(c.OperatorTokenHash); err != nil || len(b) != 32 {
			errs = append(errs, errors.New("operator_token_hash: must be the 64 hex digits that conversa operator token prints"))
		}
	}
	return errors.Join(errs...)
}

// operatorTokenHash returns the configured SHA-256 of the operator token,
// or nil.
func (c *Config) operatorTokenHash() []byte {
	b, _ := hex.DecodeString(c.OperatorTokenHash)
	return b
}

// newBilling returns the billing service of the configuration on store,
// with its close job handled by worker and scheduled.
func newBilling(ctx context.Context, cfg Config, store durableStore, worker *conversation.Worker, logger *slog.Logger) (*billing.Service, error) {
	loc, err := time.LoadLocation(cfg.BillingZone)
	if err != nil {
		return nil, err
	}
	svc, err := billing.New(store, store, billing.Config{Location: loc, CloseAfterDays: cfg.BillingCloseAfterDays,
		Logger: logger.With("component", "billing"), JobsAdded: worker.Wake})
	if err != nil {
		return nil, err
	}
	worker.Handle(billing.JobClose, svc.CloseJob)
	// The month before and this one close CloseAfterDays after they end,
	// once, on whichever node; each job schedules the next month's.
	if err := svc.Schedule(ctx); err != nil {
		return nil, fmt.Errorf("schedule the billing close jobs: %w", err)
	}
	return svc, nil
}

func billingCmd(ctx context.Context, args []string, env environment) error {
	return subcommand(ctx, "billing", args, env, map[string]command{"statement": billingStatementCmd, "close": billingCloseCmd})
}

// withBilling is withStore for the billing commands: the billing service
// on the store, in the configured zone, without a worker.
func withBilling(ctx context.Context, load func() (Config, error), fn func(conversation.Store, *billing.Service) error) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(cfg.BillingZone)
	if err != nil {
		return err
	}
	return withStore(ctx, func() (Config, error) { return cfg, nil }, func(store conversation.Store) error {
		bs, ok := store.(billing.Store) // openStore's durableStore is one
		if !ok {
			return errors.New("the store keeps no billing")
		}
		svc, err := billing.New(bs, store, billing.Config{Location: loc, CloseAfterDays: cfg.BillingCloseAfterDays})
		if err != nil {
			return err
		}
		return fn(store, svc)
	})
}

// billingTenant finds a tenant by id or slug.
func billingTenant(ctx context.Context, store conversation.Store, ref string) (conversation.Tenant, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return store.Tenant(ctx, id)
	}
	t, err := store.TenantBySlug(ctx, ref)
	if err != nil {
		return t, fmt.Errorf("tenant %q: %w", ref, err)
	}
	return t, nil
}

func billingStatementCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("billing statement", env)
	ref := fs.String("tenant", "", "the tenant's id or slug")
	month := fs.String("month", "", "the month, such as 2026-10, in billing_zone")
	asCSV := fs.Bool("csv", false, "print CSV instead of a table")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withBilling(ctx, load, func(store conversation.Store, svc *billing.Service) error {
		t, err := billingTenant(ctx, store, *ref)
		if err != nil {
			return err
		}
		st, err := svc.Statement(ctx, t.ID, *month)
		if err != nil {
			return err
		}
		if *asCSV {
			return billing.WriteCSV(env.stdout, st)
		}
		return printStatement(env, t, st)
	})
}

func printStatement(env environment, t conversation.Tenant, st billing.Statement) error {
	money := func(v int64) string { return billing.FormatAmount(v, st.Currency) }
	fmt.Fprintf(env.stdout, "Statement of %s (id %d), %s (%s): %s", t.Slug, t.ID, st.Month, st.Zone, st.Status)
	if !st.ClosedAt.IsZero() {
		fmt.Fprintf(env.stdout, ", closed %s", st.ClosedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(env.stdout, "\n\n")
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "ITEM\tFROM\tTO\tQUANTITY\tUNIT\tAMOUNT\t")
	for _, f := range st.Fees {
		fmt.Fprintf(w, "plan %s\t%s\t%s\t%d/%d days\t%s\t%s\t\n", f.Plan, f.From, f.To, f.Days, f.MonthDays, money(f.MonthlyFee), money(f.Amount))
	}
	for _, l := range st.Lines {
		fmt.Fprintf(w, "PQRs %s (%s)\t%s\t%s\t%d\t%s\t%s\t\n", l.Channel, l.Source, l.From, l.To, l.Cases, money(l.UnitPrice), money(l.Amount))
	}
	for _, s := range st.Subtotals {
		fmt.Fprintf(w, "subtotal %s\t\t\t%d\t\t%s\t\n", s.Channel, s.Cases, money(s.Amount))
	}
	fmt.Fprintf(w, "total %s\t\t\t\t\t%s\t\n", st.Currency, money(st.Total))
	return w.Flush()
}

func billingCloseCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("billing close", env)
	month := fs.String("month", "", "the ended month to close, such as 2026-10, in billing_zone")
	ref := fs.String("tenant", "", "close only this tenant's statement (id or slug; default every tenant with terms)")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withBilling(ctx, load, func(store conversation.Store, svc *billing.Service) error {
		if *ref != "" {
			t, err := billingTenant(ctx, store, *ref)
			if err != nil {
				return err
			}
			st, closed, err := svc.Close(ctx, t.ID, *month)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "tenant %d %s: total %s %s (%s)\n", st.TenantID, st.Month, billing.FormatAmount(st.Total, st.Currency), st.Currency, map[bool]string{true: "closed now", false: "closed before"}[closed])
			return nil
		}
		sts, err := svc.CloseMonth(ctx, *month)
		for _, st := range sts {
			fmt.Fprintf(env.stdout, "tenant %d %s: total %s %s\n", st.TenantID, st.Month, billing.FormatAmount(st.Total, st.Currency), st.Currency)
		}
		return err
	})
}

func operatorCmd(ctx context.Context, args []string, env environment) error {
	return subcommand(ctx, "operator", args, env, map[string]command{"token": operatorTokenCmd})
}

// operatorTokenCmd prints a new operator token and the hash to configure.
func operatorTokenCmd(_ context.Context, args []string, env environment) error {
	fs, _ := flags("operator token", env)
	if err := parse(fs, args); err != nil {
		return err
	}
	token, hash := api.NewOperatorToken()
	fmt.Fprintf(env.stdout, "operator token (shown once; send it as Authorization: Bearer ...):\n  %s\nconfigure its hash on every node:\n  operator_token_hash: %s\n  (or CONVERSA_OPERATOR_TOKEN_HASH=%s)\n", token, hash, hash)
	return nil
}

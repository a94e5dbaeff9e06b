// Command conversa is the Conversa server and its administration tool.
//
//	conversa serve [--demo]            run a node
//	conversa migrate                   bring the PostgreSQL schema up to date
//	conversa tenant create|list        manage client companies
//	conversa apikey create|list|revoke manage a tenant's API keys
//	conversa apply -f tenant.yaml      create or update a tenant from a file
//	conversa bot train|eval|chat|test|import|versions|activate|rollback
//	conversa config check              validate and print the configuration
//	conversa version
//
// Every command takes the settings of Config as flags, CONVERSA_*
// environment variables or a YAML file (--config).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // tenants' time zones work on machines without zoneinfo

	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/storage/postgres"
)

// version is set at build time by the Makefile.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := environment{getenv: os.Getenv, environ: os.Environ(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if err := run(ctx, os.Args[1:], env); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "conversa:", err)
		}
		os.Exit(2)
	}
}

// environment is what a command sees of the process, so that tests run
// the real program.
type environment struct {
	getenv         func(string) string
	environ        []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

const usage = `Conversa: omnichannel messaging gateway and chatbot runtime.

Usage:
  conversa serve [--demo]                       run a node (--demo seeds a demo tenant)
  conversa migrate                              bring the PostgreSQL schema up to date
  conversa tenant create --slug S --name N      create a tenant (client company)
  conversa tenant list
  conversa apikey create --tenant S [--name N]  create an API key (shown once)
  conversa apikey list --tenant S
  conversa apikey revoke --tenant S --id ID
  conversa apply -f tenant.yaml [--dry-run]     create or update a tenant from a file
  conversa bot train -f BOT [--tenant S] [--activate]
                                                train a bot (a YAML file or folder), print its
                                                evaluation, and store it as a tenant's next version
  conversa bot eval -f BOT [--folds 5] [--json] cross-validate a bot's classifier
  conversa bot chat (-f BOT | --tenant S)       talk to a bot in the terminal
  conversa bot test (-f BOT | --tenant S) TESTS.yaml...
                                                run test conversations; fails on a regression
  conversa bot import (--rasa nlu.yml [--domain domain.yml] | --csv FILE) [-o bot.yaml]
  conversa bot versions|activate|rollback --tenant S [--version N]
  conversa reports backfill [--tenant S] [--from DAY] [--to DAY]
                                                rebuild the report aggregates of a period
  conversa billing statement --tenant T --month 2026-10 [--csv]
                                                a tenant's monthly statement (id or slug)
  conversa billing close --month 2026-10 [--tenant T]
                                                close an ended month's statements for good
  conversa operator token                       make the platform operator's API token
  conversa config check                         validate and print the configuration
  conversa version

Every command takes the settings as flags (--database-url), environment
variables (CONVERSA_DATABASE_URL) or a YAML file (--config). Run
"conversa config check --help" to list them.
`

func run(ctx context.Context, args []string, env environment) error {
	if len(args) == 0 {
		fmt.Fprint(env.stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCmd(ctx, args, env)
	case "migrate":
		return migrateCmd(ctx, args, env)
	case "tenant":
		return subcommand(ctx, "tenant", args, env, map[string]command{"create": tenantCreateCmd, "list": tenantListCmd})
	case "apikey":
		return subcommand(ctx, "apikey", args, env, map[string]command{"create": apikeyCreateCmd, "list": apikeyListCmd, "revoke": apikeyRevokeCmd})
	case "apply":
		return applyCmd(ctx, args, env)
	case "bot":
		return botCmd(ctx, args, env)
	case "config":
		return subcommand(ctx, "config", args, env, map[string]command{"check": configCheckCmd})
	case "reports":
		return subcommand(ctx, "reports", args, env, map[string]command{"backfill": reportsBackfillCmd})
	case "billing":
		return billingCmd(ctx, args, env)
	case "operator":
		return operatorCmd(ctx, args, env)
	case "version":
		fmt.Fprintln(env.stdout, "conversa", version, buildGo())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(env.stdout, usage)
		return nil
	}
	fmt.Fprint(env.stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

type command func(ctx context.Context, args []string, env environment) error

func subcommand(ctx context.Context, name string, args []string, env environment, cmds map[string]command) error {
	if len(args) > 0 {
		if c, ok := cmds[args[0]]; ok {
			return c(ctx, args[1:], env)
		}
	}
	fmt.Fprint(env.stderr, usage)
	return fmt.Errorf("%s: expected one of the subcommands above", name)
}

func buildGo() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return ""
}

// flags makes a command's flag set with every setting. Parse it, then call
// the returned function for the configuration.
func flags(name string, env environment) (*flag.FlagSet, func() (Config, error)) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	return fs, addFlags(fs, env.getenv, env.environ)
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

func serveCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("serve", env)
	demo := fs.Bool("demo", false, "create the demo tenant, web-chat channel and API key if missing")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	logger := newLogger(cfg, env.stderr)
	srv, err := NewServer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	var info *demoInfo
	if *demo {
		if info, err = seedDemo(ctx, srv.store, srv.bots, srv.channels, srv.router); err != nil {
			srv.close()
			return err
		}
	}
	if err := srv.Listen(); err != nil {
		srv.close()
		return err
	}
	logger.Info("listening", "addr", srv.Addr(), "public_url", cfg.PublicURL, "store", storeName(cfg), "version", version)
	srv.printURLs(env.stdout, info)
	return srv.Run(ctx)
}

func migrateCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("migrate", env)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if !cfg.usesPostgres() {
		store, err := openStore(ctx, cfg, true)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, "the embedded store at", cfg.DatabaseURL, "is up to date")
		return store.Close()
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL})
	if err != nil {
		return err
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	for _, name := range applied {
		fmt.Fprintln(env.stdout, "applied", name)
	}
	if err == nil && len(applied) == 0 {
		fmt.Fprintln(env.stdout, "the database is up to date")
	}
	return err
}

// withStore loads the configuration, opens the store and runs fn.
func withStore(ctx context.Context, load func() (Config, error), fn func(conversation.Store) error) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(store)
}

// withTenant is withStore for commands about the tenant named by slug.
func withTenant(ctx context.Context, load func() (Config, error), slug string, fn func(conversation.Store, conversation.Tenant) error) error {
	return withStore(ctx, load, func(store conversation.Store) error {
		t, err := store.TenantBySlug(ctx, slug)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", slug, err)
		}
		return fn(store, t)
	})
}

func tenantCreateCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("tenant create", env)
	var t conversation.Tenant
	fs.StringVar(&t.Slug, "slug", "", "short unique name, such as acme")
	fs.StringVar(&t.Name, "name", "", "display name")
	fs.StringVar(&t.Language, "language", "es", "default language: es or en")
	fs.StringVar(&t.Region, "region", "CO", "country of local phone numbers (ISO 3166-1 alpha-2)")
	fs.StringVar(&t.TimeZone, "time-zone", "America/Bogota", "IANA time zone")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	return withStore(ctx, load, func(store conversation.Store) error {
		t, err := store.CreateTenant(ctx, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "created tenant %s (id %d)\n", t.Slug, t.ID)
		return nil
	})
}

func tenantListCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("tenant list", env)
	if err := parse(fs, args); err != nil {
		return err
	}
	return withStore(ctx, load, func(store conversation.Store) error {
		ts, err := store.ListTenants(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tSLUG\tNAME\tLANGUAGE\tTIME ZONE")
		for _, t := range ts {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Slug, t.Name, t.Language, t.TimeZone)
		}
		return w.Flush()
	})
}

func apikeyCreateCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("apikey create", env)
	slug := fs.String("tenant", "", "the tenant's slug")
	name := fs.String("name", "", "what the key is for, such as crm")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withTenant(ctx, load, *slug, func(store conversation.Store, t conversation.Tenant) error {
		n, err := conversation.NormalizeName("name", *name)
		if err != nil {
			return err
		}
		key, rec := api.NewKey(t.ID, n)
		if _, err := store.CreateAPIKey(ctx, rec); err != nil {
			return err
		}
		fmt.Fprintln(env.stderr, "API key for tenant", t.Slug, "(id", rec.ID+"). It is shown only now:")
		fmt.Fprintln(env.stdout, key)
		return nil
	})
}

func apikeyListCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("apikey list", env)
	slug := fs.String("tenant", "", "the tenant's slug")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withTenant(ctx, load, *slug, func(store conversation.Store, t conversation.Tenant) error {
		keys, err := store.ListAPIKeys(ctx, t.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return w.Flush()
	})
}

func apikeyRevokeCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("apikey revoke", env)
	slug := fs.String("tenant", "", "the tenant's slug")
	id := fs.String("id", "", "the key's id, as apikey list shows it")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withTenant(ctx, load, *slug, func(store conversation.Store, t conversation.Tenant) error {
		if err := store.RevokeAPIKey(ctx, t.ID, *id); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, "revoked", *id, "(servers stop accepting it within 30 seconds)")
		return nil
	})
}

func applyCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("apply", env)
	file := fs.String("f", "", "the tenant file (YAML)")
	dryRun := fs.Bool("dry-run", false, "print what would change and change nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	f, err := parseTenantFile(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if err := f.readTemplates(filepath.Dir(*file)); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	return withStore(ctx, func() (Config, error) { return cfg, nil }, func(store conversation.Store) error {
		reg, err := validationRegistry(cfg)
		if err != nil {
			return err
		}
		p, err := planApply(ctx, store, reg, f)
		if err != nil {
			return fmt.Errorf("%s is not valid; nothing was changed:\n%w", *file, err)
		}
		if len(p.changes) == 0 {
			fmt.Fprintln(env.stdout, "no changes")
			return nil
		}
		for _, c := range p.changes {
			fmt.Fprintln(env.stdout, c)
		}
		if *dryRun {
			fmt.Fprintln(env.stdout, "(dry run: nothing was changed)")
			return nil
		}
		if err := p.execute(ctx, store); err != nil {
			return err
		}
		return p.registerWebhooks(ctx, reg, env.stdout)
	})
}

func configCheckCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("config check", env)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	for _, line := range cfg.redacted() {
		fmt.Fprintln(env.stdout, line)
	}
	fmt.Fprintln(env.stderr, "the configuration is valid")
	return nil
}

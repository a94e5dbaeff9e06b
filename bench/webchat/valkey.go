package main

import (
	"context"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"
)

// newValkey connects to the Valkey server at url without client-side
// caching (the benchmark only inspects and cleans up).
func newValkey(url string) (valkey.Client, error) {
	opt, err := valkey.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.DisableCache = true
	return valkey.NewClient(opt)
}

// valkeyVersion returns the server's name and version, as INFO tells them.
func valkeyVersion(ctx context.Context, url string) (string, error) {
	c, err := newValkey(url)
	if err != nil {
		return "", err
	}
	defer c.Close()
	info, err := c.Do(ctx, c.B().Info().Section("server").Build()).ToString()
	if err != nil {
		return "", err
	}
	version := "unknown version"
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "valkey_version:"); ok {
			return "valkey " + v, nil
		}
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			version = "redis " + v
		}
	}
	return version, nil
}

// deleteKeys removes every key under prefix+":" and returns how many there
// were. It works even when ctx has ended.
func deleteKeys(ctx context.Context, url, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	c, err := newValkey(url)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	n := 0
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+":*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return n, err
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Unlink().Key(e.Elements...).Build()).Error(); err != nil {
				return n, err
			}
			n += len(e.Elements)
		}
		if cursor = e.Cursor; cursor == 0 {
			return n, nil
		}
	}
}

// Package bench is the harness that the benchmark programs under bench/
// share: it builds and runs conversa as a child process, reads the child's
// memory and CPU time from /proc, makes throwaway PostgreSQL databases,
// scrapes /metrics and summarizes latencies. It is Linux-only, like the
// numbers it reads.
//
// The programs themselves are bench/ingest, bench/webchat and bench/idle;
// see bench/README.md.
package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes this machine in a few lines: date, CPUs, memory, kernel
// and Go version, for the header of a benchmark's output.
func Machine() []string {
	model, mem := "unknown", "unknown"
	if v, ok := procField("/proc/cpuinfo", "model name"); ok {
		model = v
	}
	if v, ok := procField("/proc/meminfo", "MemTotal"); ok {
		var kb int64
		if _, err := fmt.Sscanf(v, "%d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return []string{
		"date:    " + time.Now().UTC().Format("2006-01-02 15:04 MST"),
		fmt.Sprintf("cpus:    %d x %s", runtime.NumCPU(), model),
		"memory:  " + mem,
		"kernel:  " + kernel,
		"go:      " + runtime.Version(),
	}
}

// procField returns the value of the first "name: value" line of a /proc
// file.
func procField(path, name string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// EncryptionKey is the encryption_key of benchmark nodes on PostgreSQL,
// which require one. It protects nothing: benchmark databases are dropped.
const EncryptionKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

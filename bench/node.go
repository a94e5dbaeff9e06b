package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModuleRoot returns the directory of the conversa module (where go.mod
// is), as the go command sees it from the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the conversa module: run the benchmarks from the repository")
	}
	return filepath.Dir(mod), nil
}

// Binary returns the path of a conversa binary that matches the current
// source: bin/conversa when it is newer than every file of the module
// outside bench/ (what "make build" leaves), otherwise a fresh pure-Go build
// of ./cmd/conversa into dir. It reports which on log.
func Binary(ctx context.Context, dir string, log io.Writer) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "conversa")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		newer, err := newestSource(root)
		if err != nil {
			return "", err
		}
		if fi.ModTime().After(newer) {
			fmt.Fprintf(log, "binary:  %s (newer than the sources)\n", bin)
			return bin, nil
		}
	}
	out := filepath.Join(dir, "conversa")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/conversa")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/conversa: %w\n%s", err, b)
	}
	fmt.Fprintf(log, "binary:  %s (built from ./cmd/conversa)\n", out)
	return out, nil
}

// newestSource returns the latest modification time of the module's files
// that can go into the binary: everything but bench/, build output, test
// state and version control.
func newestSource(root string) (time.Time, error) {
	skip := map[string]bool{".git": true, "bin": true, "bench": true, ".test": true, "data": true, "node_modules": true}
	var newest time.Time
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skip[d.Name()] && filepath.Dir(path) == root {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	return newest, err
}

// childEnv is this process's environment without CONVERSA_* variables, so
// that a child's settings are exactly its flags.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONVERSA_") {
			env = append(env, kv)
		}
	}
	return env
}

// Command runs a conversa administration command (migrate, apply, apikey)
// to completion and returns its standard output.
func Command(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("conversa %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Node is a running "conversa serve" process started by Start. Stop ends it.
type Node struct {
	// URL is the base URL the node serves on, as it printed it.
	URL string

	cmd      *exec.Cmd
	out      *tail
	done     chan struct{} // closed when the process has exited
	err      error         // the exit error, set before done is closed
	stopOnce sync.Once
	stopErr  error
}

var runningRE = regexp.MustCompile(`running on (http://\S+)`)

// Start runs bin with args, which must be a serve command listening on
// 127.0.0.1:0, and waits until it prints the URL it serves on. The process
// gets a SIGKILL if this one dies first.
func Start(ctx context.Context, bin string, args ...string) (*Node, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	cmd.SysProcAttr = childAttr()
	n := &Node{cmd: cmd, out: &tail{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = n.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start conversa: %w", err)
	}
	urls := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			n.out.Write([]byte(line + "\n"))
			if m := runningRE.FindStringSubmatch(line); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-copied // Wait closes stdout: read it all first
		n.err = cmd.Wait()
		close(n.done)
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case n.URL = <-urls:
		return n, nil
	case <-n.done:
		return nil, fmt.Errorf("conversa %s exited before serving: %v\n%s", args[0], n.err, n.out)
	case <-timer.C:
		n.Stop()
		return nil, fmt.Errorf("conversa %s did not print its URL within 60 s\n%s", args[0], n.out)
	case <-ctx.Done():
		n.Stop()
		return nil, ctx.Err()
	}
}

// Pid returns the node's process id.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// Output returns the end of what the node wrote to stdout and stderr.
func (n *Node) Output() string { return n.out.String() }

// Exited reports whether the process has ended.
func (n *Node) Exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// 30 seconds. It returns an error if the process failed or had to be
// killed. Stop may be called more than once; later calls return nil.
func (n *Node) Stop() error {
	first := false
	n.stopOnce.Do(func() {
		first = true
		n.stopErr = n.stop()
	})
	if !first {
		return nil
	}
	return n.stopErr
}

func (n *Node) stop() error {
	if n.Exited() {
		return n.exitErr()
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return n.exitErr()
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		return fmt.Errorf("conversa did not stop within 30 s of SIGTERM and was killed\n%s", n.out)
	}
}

func (n *Node) exitErr() error {
	if n.err != nil {
		return fmt.Errorf("conversa exited: %w\n%s", n.err, n.out)
	}
	return nil
}

// tail keeps the last max bytes written to it. It is safe for concurrent
// use.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// RSS returns the resident set size (VmRSS) of process pid, in bytes.
func RSS(pid int) (int64, error) {
	v, ok := procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
	if !ok {
		return 0, fmt.Errorf("no VmRSS for process %d", pid)
	}
	var kb int64
	if _, err := fmt.Sscanf(v, "%d kB", &kb); err != nil {
		return 0, fmt.Errorf("VmRSS of process %d: %q", pid, v)
	}
	return kb << 10, nil
}

// PeakRSS returns the highest resident set size (VmHWM) process pid has
// had, in bytes.
func PeakRSS(pid int) (int64, error) {
	v, ok := procField(fmt.Sprintf("/proc/%d/status", pid), "VmHWM")
	if !ok {
		return 0, fmt.Errorf("no VmHWM for process %d", pid)
	}
	var kb int64
	if _, err := fmt.Sscanf(v, "%d kB", &kb); err != nil {
		return 0, fmt.Errorf("VmHWM of process %d: %q", pid, v)
	}
	return kb << 10, nil
}

// SampleRSS reads the RSS of process pid n times, every interval, and
// returns the smallest and largest values. The smallest is the better
// estimate of live memory: a Go process's RSS also holds garbage that the
// next collection frees, and the benchmark cannot trigger that collection.
func SampleRSS(ctx context.Context, pid, n int, every time.Duration) (lo, hi int64, err error) {
	for i := range n {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-time.After(every):
			}
		}
		v, err := RSS(pid)
		if err != nil {
			return 0, 0, err
		}
		if i == 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi, nil
}

// CPUTime returns the user plus system CPU time process pid has used
// (its own threads, not its children).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// CPUStat is a snapshot of the machine's CPU counters (/proc/stat).
type CPUStat struct {
	busy, total uint64
}

// ReadCPUStat reads the machine's CPU counters.
func ReadCPUStat() (CPUStat, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUStat{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return CPUStat{}, fmt.Errorf("malformed /proc/stat")
	}
	var s CPUStat
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return CPUStat{}, fmt.Errorf("malformed /proc/stat")
		}
		// Guest time is already counted in user time.
		if i >= 8 {
			break
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s, nil
}

// BusySince returns the fraction of all CPUs' time that was busy between
// the earlier snapshot and s.
func (s CPUStat) BusySince(earlier CPUStat) float64 {
	if s.total <= earlier.total {
		return 0
	}
	return float64(s.busy-earlier.busy) / float64(s.total-earlier.total)
}

// CPUTimeOfCommand returns the CPU time used so far by all live processes
// whose command name (/proc/<pid>/comm) is name, such as "postgres": the
// server and every backend. Processes that ended are not counted, so
// compare snapshots taken while the same connections stay open.
func CPUTimeOfCommand(name string) (time.Duration, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		if t, err := CPUTime(pid); err == nil {
			total += t
		}
	}
	return total, nil
}

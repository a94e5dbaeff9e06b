package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Metrics is one scrape of a node's /metrics, in the Prometheus text
// format.
type Metrics []Sample

// Sample is one line of a scrape.
type Sample struct {
	Name   string
	Labels string // as written, such as `kind="route",state="pending"`
	Value  float64
}

// Scrape fetches baseURL/metrics.
func Scrape(ctx context.Context, client *http.Client, baseURL string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: %s", resp.Status)
	}
	var m Metrics
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		s := Sample{Name: line[:i], Value: v}
		if j := strings.IndexByte(s.Name, '{'); j >= 0 {
			s.Name, s.Labels = s.Name[:j], strings.TrimSuffix(s.Name[j+1:], "}")
		}
		m = append(m, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	return m, nil
}

// Sum returns the sum of the samples of the named metric whose labels
// contain every one of the given label pairs (such as `state="pending"`),
// and whether there was any.
func (m Metrics) Sum(name string, labels ...string) (float64, bool) {
	var sum float64
	found := false
	for _, s := range m {
		if s.Name != name {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(s.Labels, l) {
				match = false
				break
			}
		}
		if match {
			sum += s.Value
			found = true
		}
	}
	return sum, found
}

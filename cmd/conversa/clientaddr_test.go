package main

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseTrustedProxies(t *testing.T) {
	ps, err := parseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,, fd00::/8, ::ffff:198.51.100.1, 172.16.5.9/12")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "fd00::/8", "198.51.100.1/32", "172.16.0.0/12"}
	if len(ps) != len(want) {
		t.Fatalf("parsed %v; want %v", ps, want)
	}
	for i, p := range ps {
		if p.String() != want[i] {
			t.Errorf("entry %d is %v; want %s", i, p, want[i])
		}
	}
	if ps, err := parseTrustedProxies(""); err != nil || len(ps) != 0 {
		t.Errorf("empty: %v, %v; want none", ps, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0", "fe80::1%eth0", "10.0.0.1, nope"} {
		if _, err := parseTrustedProxies(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestClientAddr(t *testing.T) {
	ps, err := parseTrustedProxies("10.0.0.0/8, 192.0.2.7, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		forwarded  []string
		want       string
	}{
		{"untrusted peer: the header is ignored", "203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer without the header", "10.1.2.3", nil, "10.1.2.3"},
		{"one proxy", "10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a client's forged entries before the proxy's", "10.1.2.3", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "192.0.2.7", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"headers read as one list, the last header last", "10.1.2.3", []string{"1.1.1.1, 198.51.100.1", "10.2.2.2"}, "198.51.100.1"},
		{"every hop trusted: the leftmost", "10.1.2.3", []string{"10.5.5.5, 10.6.6.6"}, "10.5.5.5"},
		{"an unreadable entry stops the walk", "10.1.2.3", []string{"198.51.100.1, unknown, 10.6.6.6"}, "10.6.6.6"},
		{"unreadable at once: the peer", "10.1.2.3", []string{"garbage"}, "10.1.2.3"},
		{"a port after the address", "10.1.2.3", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 in brackets with a port", "fd00::1", []string{"[2001:db8::5]:443"}, "2001:db8::5"},
		{"bare IPv6", "fd00::1", []string{"2001:db8::5"}, "2001:db8::5"},
		{"IPv4 mapped in IPv6", "::ffff:10.1.2.3", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"empty entries", "10.1.2.3", []string{""}, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ps.client(netip.MustParseAddr(tt.peer), tt.forwarded)
			if got != netip.MustParseAddr(tt.want) {
				t.Errorf("client = %v; want %s", got, tt.want)
			}
		})
	}
	// With no trusted proxies nothing is believed.
	if got := trustedProxies(nil).client(netip.MustParseAddr("10.1.2.3"), []string{"198.51.100.1"}); got != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("no trusted proxies: client = %v", got)
	}
	// A long header is read only as far as maxForwardedHops from the
	// right: past that, the leftmost address read.
	long := strings.Repeat("198.51.100.1, ", 1000) + strings.TrimSuffix(strings.Repeat("10.0.0.1, ", maxForwardedHops+5), ", ")
	if got := ps.client(netip.MustParseAddr("10.1.2.3"), []string{long}); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("a long header: client = %v; want the last trusted hop read", got)
	}
}

func TestWithClientAddr(t *testing.T) {
	ps, _ := parseTrustedProxies("127.0.0.1")
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if peer := ps.withClientAddr(r); peer != "127.0.0.1:5555" || r.RemoteAddr != "198.51.100.1:0" {
		t.Errorf("peer %q, RemoteAddr %q; want 127.0.0.1:5555 and 198.51.100.1:0", peer, r.RemoteAddr)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[::1]:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if ps.withClientAddr(r); r.RemoteAddr != "[::1]:5555" {
		t.Errorf("an untrusted peer's RemoteAddr became %q", r.RemoteAddr)
	}
	r.RemoteAddr = "not an address"
	if ps.withClientAddr(r); r.RemoteAddr != "not an address" {
		t.Errorf("an unreadable RemoteAddr became %q", r.RemoteAddr)
	}
}

// FuzzClientAddr: any header gives either the peer or an address the
// header holds, and from an untrusted peer always the peer.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3", "198.51.100.1, 10.6.6.6")
	f.Add("203.0.113.9", "1.1.1.1")
	f.Add("fd00::1", "[2001:db8::5]:443, unknown,,")
	f.Add("10.1.2.3", "::ffff:10.0.0.1%eth0")
	ps, _ := parseTrustedProxies("10.0.0.0/8, fd00::/8")
	f.Fuzz(func(t *testing.T, peer, header string) {
		p, err := netip.ParseAddr(peer)
		if err != nil {
			return
		}
		got := ps.client(p, []string{header})
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("client %v of peer %s and %q", got, peer, header)
		}
		if got == p.Unmap().WithZone("") {
			return
		}
		if !ps.trusts(p.Unmap().WithZone("")) {
			t.Fatalf("an untrusted peer %s got client %v from %q", peer, got, header)
		}
		found := false
		for _, hop := range strings.Split(header, ",") {
			if a, ok := parseHop(strings.TrimSpace(hop)); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("client %v is not in %q", got, header)
		}
	})
}

func TestAccessLineNamesTheProxy(t *testing.T) {
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.RemoteAddr = "198.51.100.1:0"
	attrs := func(peer string) map[string]string {
		m := map[string]string{}
		for _, a := range slogAttrs(r, peer, 200, 2, time.Millisecond) {
			m[a.Key] = a.Value.String()
		}
		return m
	}
	if m := attrs("10.0.0.1:4711"); m["remote"] != "198.51.100.1:0" || m["proxy"] != "10.0.0.1:4711" {
		t.Errorf("through a proxy: %v", m)
	}
	if m := attrs("198.51.100.1:0"); m["remote"] != "198.51.100.1:0" || m["proxy"] != "" {
		t.Errorf("direct: %v", m)
	}
}

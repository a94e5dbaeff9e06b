package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies are the load balancers and reverse proxies in front of the
// server (the setting trusted_proxies). A request that comes from one of
// them names its client in X-Forwarded-For, where each proxy appends the
// address it was reached from; from any other peer the header is the
// client's own word and is ignored, so that no one picks the address that
// rate limits and logs see.
type trustedProxies []netip.Prefix

// parseTrustedProxies reads a comma-separated list of addresses and CIDR
// ranges ("10.0.0.0/8, 192.0.2.7, fd00::/8"). Empty is none.
func parseTrustedProxies(s string) (trustedProxies, error) {
	var ps trustedProxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil { // never with a zone
			ps = append(ps, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IP address or a CIDR range such as 10.0.0.0/8", f)
		}
		a = a.Unmap()
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return ps, nil
}

func (ps trustedProxies) trusts(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxForwardedHops bounds the X-Forwarded-For entries read, from the
// right: a chain of proxies is a few hops, and a client may send a header
// of thousands.
const maxForwardedHops = 32

// client returns the client of a request from peer with the values of its
// X-Forwarded-For headers: peer itself unless peer is trusted; otherwise,
// reading the header from the right, the first address that is not a
// trusted proxy. When every address read is trusted, or an entry cannot be
// read (and then nothing to its left is believed), it is the leftmost
// address read.
func (ps trustedProxies) client(peer netip.Addr, forwarded []string) netip.Addr {
	client := peer.Unmap().WithZone("")
	if !ps.trusts(client) {
		return client
	}
	read := 0
	for i := len(forwarded) - 1; i >= 0; i-- {
		hops := forwarded[i]
		for hops != "" && read < maxForwardedHops {
			var hop string
			if k := strings.LastIndexByte(hops, ','); k >= 0 {
				hops, hop = hops[:k], hops[k+1:]
			} else {
				hops, hop = "", hops
			}
			a, ok := parseHop(strings.TrimSpace(hop))
			if !ok {
				return client
			}
			read++
			client = a
			if !ps.trusts(a) {
				return a
			}
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, with a port or
// not (some proxies add it), IPv6 in brackets or bare.
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// withClientAddr sets the request's RemoteAddr to its client's address
// (port 0) when it came through trusted proxies, so that every handler
// (rate limits, login throttling, logs) sees the client. It returns the
// peer's RemoteAddr as it was, for the access log.
func (ps trustedProxies) withClientAddr(r *http.Request) (peer string) {
	peer = r.RemoteAddr
	if len(ps) == 0 {
		return peer
	}
	host, _, err := net.SplitHostPort(peer)
	if err != nil {
		host = peer
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return peer
	}
	if c := ps.client(a, r.Header.Values("X-Forwarded-For")); c != a.Unmap().WithZone("") {
		r.RemoteAddr = netip.AddrPortFrom(c, 0).String()
	}
	return peer
}

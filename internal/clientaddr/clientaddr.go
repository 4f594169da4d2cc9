// Package clientaddr names the client behind an address for every limit
// counted per client address (sign-up and login limits, anonymous upload
// slots, event-stream caps), so that they all agree on who one client is.
package clientaddr

import "net/netip"

// maxKeyLen bounds a key made of something that is not an address, so a
// limiter's memory stays bounded whatever it is given.
const maxKeyLen = 160

// Key names the client behind addr (an IP address, with or without a port).
// An IPv6 client is its /64: a single host usually owns the whole prefix and
// could otherwise take a fresh address, and a fresh budget, for every
// attempt. An IPv4-mapped IPv6 address is its IPv4 address.
func Key(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			if len(addr) > maxKeyLen {
				return addr[:maxKeyLen]
			}
			return addr
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64) // cannot fail: 64 fits an IPv6 address
		return p.String()
	}
	return ip.String()
}

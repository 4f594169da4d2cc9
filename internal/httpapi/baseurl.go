package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// publicBase derives the scheme and host of the absolute URLs reel hands
// out (media URLs above all) when REEL_PUBLIC_URL is not set. The Host
// header is the client's word, and a URL built from it can reach other
// clients: through the answers cached in this process (the anonymous
// feed), or through a shared cache in front of it. So a Host is believed
// only when it is one of REEL_ALLOWED_HOSTS; any other gets the address the
// connection was accepted on, which the client demonstrably reached and no
// header can change. X-Forwarded-Host is never read; X-Forwarded-Proto only
// from a trusted proxy.
type publicBase struct {
	fixed   string // REEL_PUBLIC_URL, when set
	allowed []hostPattern
	proxies []netip.Prefix
}

// hostPattern is one REEL_ALLOWED_HOSTS entry: a host (lower case, IPv6 in
// brackets), or a domain whose subdomains match, with an optional port.
type hostPattern struct {
	host   string
	suffix bool   // "*.example.com": any name ending in ".example.com"
	port   string // "" matches any port
}

func newPublicBase(publicURL string, allowed, trustedProxies []string) (*publicBase, error) {
	b := &publicBase{fixed: strings.TrimRight(publicURL, "/")}
	for _, entry := range allowed {
		host, port, ok := splitHost(entry)
		if !ok {
			return nil, fmt.Errorf("allowed host %q is not a host name or address", entry)
		}
		p := hostPattern{host: host, port: port}
		if rest, ok := strings.CutPrefix(host, "*."); ok {
			p.host, p.suffix = "."+rest, true
		}
		b.allowed = append(b.allowed, p)
	}
	for _, p := range trustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, err := netip.ParseAddr(p)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or prefix", p)
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		b.proxies = append(b.proxies, prefix.Masked())
	}
	return b, nil
}

// baseURL is the scheme and host (no trailing slash) of absolute URLs for
// the client of c.
func (s *server) baseURL(c *gin.Context) string {
	return s.base.of(c.Request)
}

func (b *publicBase) of(r *http.Request) string {
	if b.fixed != "" {
		return b.fixed
	}
	scheme := b.scheme(r)
	if b.allows(r.Host) {
		return scheme + "://" + strings.ToLower(r.Host)
	}
	return scheme + "://" + fallbackHost(r)
}

// scheme is the scheme the client used: https over TLS, or what a trusted
// proxy says in X-Forwarded-Proto.
func (b *publicBase) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); (p == "https" || p == "http") && b.fromProxy(r) {
		return p
	}
	return "http"
}

// secure reports whether the client reached reel over https: the session
// cookie is Secure then.
func (b *publicBase) secure(r *http.Request) bool { return b.scheme(r) == "https" }

// allows reports whether a Host header is one of the allowed hosts.
func (b *publicBase) allows(hostHeader string) bool {
	host, port, ok := splitHost(hostHeader)
	if !ok || strings.HasPrefix(host, "*.") {
		return false
	}
	for _, p := range b.allowed {
		if p.port != "" && p.port != port {
			continue
		}
		if host == p.host || (p.suffix && strings.HasSuffix(host, p.host)) {
			return true
		}
	}
	return false
}

// fromProxy reports whether the peer of r is a trusted proxy.
func (b *publicBase) fromProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range b.proxies {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// fallbackHost is the address the connection was accepted on, or localhost
// when there is none (a request that did not come over TCP).
func fallbackHost(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil && !ap.Addr().IsUnspecified() {
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
		}
	}
	return "localhost"
}

// splitHost reads "host", "host:port", "[v6]" or "[v6]:port" into a lower
// case host (IPv6 in brackets) and port; ok is false for anything else,
// so that no odd spelling can match an allowed host.
func splitHost(hostport string) (host, port string, ok bool) {
	h := strings.ToLower(hostport)
	if hp, p, err := net.SplitHostPort(h); err == nil {
		h, port = hp, p
		for _, d := range port {
			if d < '0' || d > '9' {
				return "", "", false
			}
		}
		if port == "" {
			return "", "", false
		}
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", "", false
		}
		if a.Is6() && !a.Is4In6() {
			return "[" + a.String() + "]", port, true
		}
		return a.Unmap().String(), port, true
	}
	name := strings.TrimPrefix(h, "*.")
	if name == "" {
		return "", "", false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return "", "", false
		}
	}
	return h, port, true
}

// withBaseLocation makes the Location headers of h (tusd's upload URLs)
// start with the base URL of every other absolute URL. tusd builds them from
// the request's Host header, which the client chooses; this keeps tusd's
// path and replaces its scheme and host by b.of(r), so REEL_PUBLIC_URL (with
// any path it has) and REEL_ALLOWED_HOSTS hold for uploads too.
func (b *publicBase) withBaseLocation(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&locationWriter{ResponseWriter: w, base: b.of(r)}, r)
	})
}

// locationWriter rewrites an absolute Location header to base when the
// header is sent (tusd also sends it with an interim 104).
type locationWriter struct {
	http.ResponseWriter
	base    string
	written bool
}

func (w *locationWriter) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil && u.IsAbs() {
			rel := u.EscapedPath()
			if u.RawQuery != "" {
				rel += "?" + u.RawQuery
			}
			w.Header().Set("Location", w.base+rel)
		}
	}
	if code >= 200 {
		w.written = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *locationWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets tusd's http.ResponseController reach the connection's
// deadlines and flushing.
func (w *locationWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

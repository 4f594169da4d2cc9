package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBaseURL(t *testing.T) {
	b, err := newPublicBase("", []string{"localhost", "127.0.0.1", "[::1]", "videos.example.com:8443", "*.cdn.example", "Mixed.Example"}, []string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	local := &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 8080}
	for _, c := range []struct {
		host, remote string
		tls          bool
		headers      map[string]string
		want         string
	}{
		{host: "localhost:8080", want: "http://localhost:8080"},
		{host: "LOCALHOST", want: "http://localhost"},
		{host: "127.0.0.1:9", want: "http://127.0.0.1:9"},
		{host: "[::1]:8080", want: "http://[::1]:8080"},
		{host: "videos.example.com:8443", want: "http://videos.example.com:8443"},
		{host: "videos.example.com", want: "http://203.0.113.9:8080"}, // the entry names a port
		{host: "a.cdn.example", want: "http://a.cdn.example"},
		{host: "a.b.cdn.example:1", want: "http://a.b.cdn.example:1"},
		{host: "cdn.example", want: "http://203.0.113.9:8080"},
		{host: "mixed.example", want: "http://mixed.example"},
		{host: "*.cdn.example", want: "http://203.0.113.9:8080"},
		{host: "evil.example", want: "http://203.0.113.9:8080"},
		{host: "localhost.evil.example", want: "http://203.0.113.9:8080"},
		{host: "evil.localhost", want: "http://203.0.113.9:8080"},
		{host: "localhost@evil.example", want: "http://203.0.113.9:8080"},
		{host: "localhost:80/x", want: "http://203.0.113.9:8080"},
		{host: "localhost:http", want: "http://203.0.113.9:8080"},
		{host: "[::1%eth0]:80", want: "http://203.0.113.9:8080"},
		{host: "", want: "http://203.0.113.9:8080"},
		{host: "localhost", tls: true, want: "https://localhost"},
		// Forwarding headers: the scheme from a trusted proxy only, the host never.
		{host: "localhost", remote: "10.1.2.3:5000", headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, want: "https://localhost"},
		{host: "localhost", remote: "192.0.2.1:5000", headers: map[string]string{"X-Forwarded-Proto": "https"}, want: "https://localhost"},
		{host: "localhost", remote: "198.51.100.1:5000", headers: map[string]string{"X-Forwarded-Proto": "https"}, want: "http://localhost"},
		{host: "localhost", remote: "10.1.2.3:5000", headers: map[string]string{"X-Forwarded-Proto": "gopher"}, want: "http://localhost"},
		{host: "evil.example", remote: "10.1.2.3:5000", headers: map[string]string{"X-Forwarded-Host": "localhost"}, want: "http://203.0.113.9:8080"},
	} {
		r := httptest.NewRequest("GET", "/api/v1/feed", nil)
		r.Host = c.host
		r.RemoteAddr = "198.51.100.7:1234"
		if c.remote != "" {
			r.RemoteAddr = c.remote
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
		if got := b.of(r); got != c.want {
			t.Errorf("Host %q from %s %v: %q, want %q", c.host, r.RemoteAddr, c.headers, got, c.want)
		}
	}
	// Without a connection's address: localhost. With REEL_PUBLIC_URL: always it.
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "evil.example"
	if got := b.of(r); got != "http://localhost" {
		t.Errorf("no local address: %q", got)
	}
	fixed, _ := newPublicBase("https://reel.example/", nil, nil)
	if got := fixed.of(r); got != "https://reel.example" {
		t.Errorf("REEL_PUBLIC_URL: %q", got)
	}
	if _, err := newPublicBase("", []string{"bad host/"}, nil); err == nil {
		t.Error("a bad allowed host was accepted")
	}
}

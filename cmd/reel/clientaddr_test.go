package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
)

// TestOneClientPerIPv6Prefix: every per-address limit counts an IPv6 client
// by its /64, so a host cannot take a fresh budget by taking a fresh
// address of its prefix: the event-stream cap and the sign-up limit, with
// the addresses coming through a trusted proxy's X-Forwarded-For. (The
// anonymous upload slots use the same key: publish.TestHoldAnonymousPerClient.)
func TestOneClientPerIPv6Prefix(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_TRUSTED_PROXIES": "127.0.0.1", "REEL_SIGNUP_LIMIT": "2/1h"})
	token := signUp(t, srv, "prefixed")
	_, uploading := createUpload(t, srv, token, 1000)
	events := fmt.Sprintf("%s/api/v1/videos/%d/events", srv.URL, uploading)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(from string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", events, nil)
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp.StatusCode
	}
	for i := range 8 {
		if st := open(fmt.Sprintf("2001:db8:1:2::%x", i+1)); st != http.StatusOK {
			t.Fatalf("stream %d from the prefix: %d", i+1, st)
		}
	}
	if st := open("2001:db8:1:2:ffff:ffff:ffff:ffff"); st != http.StatusTooManyRequests {
		t.Errorf("a ninth stream from another address of the same /64: %d, want 429", st)
	}
	if st := open("2001:db8:1:3::1"); st != http.StatusOK {
		t.Errorf("a stream from another /64: %d, want 200", st)
	}

	signUpFrom := func(name, from string) response {
		return srv.do("POST", "/api/v1/users", "", map[string]string{"username": name, "password": "secret-1"}, "X-Forwarded-For", from)
	}
	expect(t, signUpFrom("first6", "2001:db8:9:9::1"), 201, "")
	expect(t, signUpFrom("second6", "2001:db8:9:9::2"), 201, "")
	expect(t, signUpFrom("third6", "2001:db8:9:9:abcd::3"), 429, "rate_limited")
	expect(t, signUpFrom("fourth6", "2001:db8:9:a::1"), 201, "")
}

package account_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

// TestSessionsEndAcrossNodesRedis: with Redis a sign-out on node a stops
// the token on node b as soon as b hears of it, although b's cache still
// holds the session (the fake clock never lets it expire); with Redis
// killed, sign-outs still work and b falls back to its TTL; restarted, b
// hears them again.
func TestSessionsEndAcrossNodesRedis(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		srv := redistest.Start(t)
		f := newFixture(t, url)
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		node := func() *account.Service {
			r := redistest.Open(t, srv.URL)
			s := f.node(unlimited, unlimited, unlimited)
			s.Share(shared.NewBroadcast(r, quiet))
			ready := make(chan struct{})
			s.Listen(t.Context(), ready)
			select {
			case <-ready:
			case <-time.After(10 * time.Second):
				t.Fatal("no subscription")
			}
			return s
		}
		a, b := node(), node()
		ctx := t.Context()
		works := func(n *account.Service, token string) bool {
			t.Helper()
			_, err := n.Verify(ctx, token)
			if err != nil && reel.ErrorCode(err) != reel.EUNAUTHORIZED {
				t.Fatalf("Verify: %v", err)
			}
			return err == nil
		}
		login := func() string {
			t.Helper()
			s, err := a.Login(ctx, "alice", "password-1", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			return s.Token
		}
		reg := mustRegister(t, a, "alice", "password-1")
		t1, t2, t3 := reg.Token, login(), login()
		for _, tok := range []string{t1, t2, t3} {
			if !works(b, tok) {
				t.Fatal("a fresh token does not work on b")
			}
		}
		p1, err := a.Verify(ctx, t1)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SignOut(ctx, p1); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "b to refuse the signed-out token", 5*time.Second, time.Millisecond, func() bool { return !works(b, t1) })
		if !works(b, t2) {
			t.Fatal("another session stopped working with the one signed out")
		}
		if err := a.SignOutEverywhere(ctx, reg.User.ID); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "b to refuse every token of the user", 5*time.Second, time.Millisecond, func() bool {
			return !works(b, t2) && !works(b, t3)
		})

		srv.Kill()
		t4 := login()
		if !works(b, t4) {
			t.Fatal("with Redis down, a new token does not work on b")
		}
		p4, err := a.Verify(ctx, t4)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SignOut(ctx, p4); err != nil {
			t.Fatalf("with Redis down, sign-out failed: %v", err)
		}
		f.clock.Advance(account.DefaultRevocationTTL)
		if works(b, t4) {
			t.Error("with Redis down, b accepted a signed-out token past its TTL")
		}

		srv.Restart()
		t5 := login()
		if !works(b, t5) {
			t.Fatal("a new token does not work on b")
		}
		p5, err := a.Verify(ctx, t5)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SignOut(ctx, p5); err != nil {
			t.Fatal(err)
		}
		// Sign-outs published before both ends are back are lost (b then
		// has its TTL); sign out further sessions until b hears one.
		testwait.For(t, "b to hear sign-outs again", 10*time.Second, 20*time.Millisecond, func() bool {
			tok := login()
			if !works(b, tok) {
				t.Fatal("a new token does not work on b")
			}
			p, err := a.Verify(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.SignOut(ctx, p); err != nil {
				t.Fatal(err)
			}
			return testwait.Until(500*time.Millisecond, 5*time.Millisecond, func() bool { return !works(b, tok) })
		})
	})
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// cli runs reel with args and env, returning stdout, stderr and the error.
func cli(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"reel"}, args...), func(k string) string { return env[k] }, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestHelpAndVersion(t *testing.T) {
	out, _, err := cli(t, nil, "--help")
	if err != nil || !strings.Contains(out, "serve") || !strings.Contains(out, "migrate") || !strings.Contains(out, "user") {
		t.Errorf("reel --help: %v\n%s", err, out)
	}
	for _, cmd := range []string{"serve", "worker", "migrate", "user", "version"} {
		_, errOut, err := cli(t, nil, cmd, "--help")
		if err != nil || !strings.Contains(errOut, "Usage: reel "+cmd) {
			t.Errorf("reel %s --help: %v\n%s", cmd, err, errOut)
		}
	}
	_, errOut, _ := cli(t, nil, "serve", "--help")
	for _, flag := range []string{"-addr", "-admin-addr", "-data-dir", "-database-url", "-shutdown-timeout", "-tls-cert"} {
		if !strings.Contains(errOut, flag) {
			t.Errorf("serve --help lacks %s", flag)
		}
	}
	_, errOut, _ = cli(t, nil, "help", "migrate")
	if !strings.Contains(errOut, "Usage: reel migrate") || strings.Contains(errOut, "-addr") {
		t.Errorf("reel help migrate:\n%s", errOut)
	}
	out, _, err = cli(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "reel "+reel.Version+" (go") {
		t.Errorf("reel version: %v %q", err, out)
	}
	if _, _, err := cli(t, nil); err == nil {
		t.Error("reel without a command succeeded")
	}
	if _, _, err := cli(t, nil, "frobnicate"); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("unknown command: %v", err)
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	cases := map[string]map[string]string{
		"REEL_ADDR":             {"REEL_ADDR": "nowhere"},
		"REEL_MAX_UPLOAD_BYTES": {"REEL_MAX_UPLOAD_BYTES": "2GB"},
		"REEL_DATABASE_URL":     {"REEL_DATABASE_URL": "mysql://db"},
		"REEL_SECRET":           {"REEL_SECRET": "too-short"},
		"REEL_LOG_LEVEL":        {"REEL_LOG_LEVEL": "chatty"},
	}
	for name, env := range cases {
		env["REEL_DATA_DIR"] = t.TempDir()
		_, _, err := cli(t, env, "serve")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", env, err, name)
		}
	}
	// A taken port fails the start with the listener named, not a hang.
	srv := startServer(t, nil)
	_, _, err := cli(t, map[string]string{"REEL_DATA_DIR": t.TempDir(), "REEL_ADMIN_ADDR": "off",
		"REEL_ADDR": strings.TrimPrefix(srv.URL, "http://")}, "serve")
	if err == nil || !strings.Contains(err.Error(), "public listener") {
		t.Errorf("taken port: %v", err)
	}
}

func TestMigrateAndPromote(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir()}
		out, _, err := cli(t, env, "migrate", "status")
		if err != nil || !pending.MatchString(out) {
			t.Fatalf("status before: %v\n%s", err, out)
		}
		if out, _, err = cli(t, env, "migrate"); err != nil || !strings.Contains(out, "applied") {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
		if out, _, err = cli(t, env, "migrate", "status"); err != nil || pending.MatchString(out) || !strings.Contains(out, "applied") {
			t.Fatalf("status after: %v\n%s", err, out)
		}
		if _, _, err := cli(t, env, "migrate", "down"); err == nil {
			t.Error("migrate down accepted")
		}

		db := sqltest.OpenDB(t, dbURL)
		u, err := db.CreateUser(context.Background(), "heidi", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := cli(t, env, "user", "promote", "HEIDI"); err != nil {
			t.Fatalf("promote: %v", err)
		}
		got, err := db.FindUserByID(context.Background(), u.ID, 0)
		if err != nil || !got.IsAdmin {
			t.Fatalf("after promote: %+v %v", got, err)
		}
		// Flags may follow the name.
		if _, _, err := cli(t, map[string]string{"REEL_DATA_DIR": t.TempDir()}, "user", "demote", "heidi", "--database-url", dbURL); err != nil {
			t.Fatalf("demote: %v", err)
		}
		if got, _ = db.FindUserByID(context.Background(), u.ID, 0); got.IsAdmin {
			t.Error("still admin after demote")
		}
		if _, _, err := cli(t, env, "user", "promote", "nobody"); err == nil || reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("promote unknown user: %v", err)
		}
		if _, _, err := cli(t, env, "user", "promote"); err == nil {
			t.Error("promote without a name succeeded")
		}
	})
}

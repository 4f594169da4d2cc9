package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, []string, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, rest, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Errorf("rest = %v", rest)
	}
	checks := map[string][2]any{
		"Addr":            {c.Addr, ":8080"},
		"AdminAddr":       {c.AdminAddr, "127.0.0.1:6060"},
		"DataDir":         {c.DataDir, "./data"},
		"DatabaseURL":     {c.DatabaseURL, "sqlite://data/reel.db"},
		"MaxUploadBytes":  {c.MaxUploadBytes, int64(2147483648)},
		"Workers":         {c.Workers, max(1, runtime.NumCPU()/2)},
		"LogLevel":        {c.LogLevel, "info"},
		"ShutdownTimeout": {c.ShutdownTimeout, 30 * time.Second},
		"TokenTTL":        {c.TokenTTL, 7 * 24 * time.Hour},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	// Tests do not run on a terminal, so the format defaults to json.
	if c.LogFormat != "json" {
		t.Errorf("LogFormat = %q, want json", c.LogFormat)
	}
}

func TestEnvAndFlags(t *testing.T) {
	env := map[string]string{
		"REEL_ADDR": "127.0.0.1:9000", "REEL_DATA_DIR": "/srv/reel", "REEL_WORKERS": "0",
		"REEL_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.1", "REEL_PUBLIC_URL": "https://cdn.example.com/",
	}
	c, rest, err := load(t, []string{"--addr", ":7000", "--shutdown-timeout=5s", "extra"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7000" {
		t.Errorf("flag did not override env: Addr = %q", c.Addr)
	}
	if c.ShutdownTimeout != 5*time.Second {
		t.Errorf("ShutdownTimeout = %v", c.ShutdownTimeout)
	}
	if c.DatabaseURL != "sqlite:///srv/reel/reel.db" {
		t.Errorf("DatabaseURL derived from data dir = %q", c.DatabaseURL)
	}
	if c.Workers != 0 {
		t.Errorf("REEL_WORKERS=0 must mean serve only, got %d", c.Workers)
	}
	if len(c.TrustedProxies) != 2 {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
	if c.PublicURL != "https://cdn.example.com" {
		t.Errorf("PublicURL = %q, want the trailing slash trimmed", c.PublicURL)
	}
	if len(rest) != 1 || rest[0] != "extra" {
		t.Errorf("rest = %v", rest)
	}

	// Flags may follow positional arguments; "--" ends them.
	c, rest, err = load(t, []string{"promote", "alice", "--data-dir", "/x", "--", "--addr"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/x" || strings.Join(rest, " ") != "promote alice --addr" {
		t.Errorf("interspersed: DataDir=%q rest=%q", c.DataDir, rest)
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REEL_ADDR": "8080"}, "REEL_ADDR"},
		{map[string]string{"REEL_ADDR": ":http-nope"}, "REEL_ADDR"},
		{map[string]string{"REEL_ADMIN_ADDR": "localhost"}, "REEL_ADMIN_ADDR"},
		{map[string]string{"REEL_DATABASE_URL": "mysql://x"}, "REEL_DATABASE_URL"},
		{map[string]string{"REEL_DATABASE_URL": "reel.db"}, "REEL_DATABASE_URL"},
		{map[string]string{"REEL_PUBLIC_URL": "cdn.example.com"}, "REEL_PUBLIC_URL"},
		{map[string]string{"REEL_SECRET": "short"}, "REEL_SECRET"},
		{map[string]string{"REEL_MAX_UPLOAD_BYTES": "lots"}, `REEL_MAX_UPLOAD_BYTES: invalid value "lots": must be a whole number`},
		{map[string]string{"REEL_MAX_UPLOAD_BYTES": "-1"}, "REEL_MAX_UPLOAD_BYTES"},
		{map[string]string{"REEL_WORKERS": "-2"}, "REEL_WORKERS"},
		{map[string]string{"REEL_LOG_LEVEL": "loud"}, "REEL_LOG_LEVEL"},
		{map[string]string{"REEL_LOG_FORMAT": "xml"}, "REEL_LOG_FORMAT"},
		{map[string]string{"REEL_TLS_CERT": "cert.pem"}, "REEL_TLS_KEY"},
		{map[string]string{"REEL_SHUTDOWN_TIMEOUT": "30"}, `REEL_SHUTDOWN_TIMEOUT: invalid value "30": must be a duration`},
		{map[string]string{"REEL_TOKEN_TTL": "-1h"}, "REEL_TOKEN_TTL"},
		{map[string]string{"REEL_TRUSTED_PROXIES": "not-an-ip"}, "REEL_TRUSTED_PROXIES"},
		{map[string]string{"REEL_MAX_PIXELS": "4k"}, "REEL_MAX_PIXELS"},
		{map[string]string{"REEL_MAX_PIXELS": "0x0"}, "REEL_MAX_PIXELS"},
		{map[string]string{"REEL_MAX_QUEUED": "-5"}, "REEL_MAX_QUEUED"},
		{map[string]string{"REEL_STALE_FOR": "-1m"}, "REEL_STALE_FOR"},
		{map[string]string{"REEL_STALE_FOR": "5"}, `REEL_STALE_FOR: invalid value "5": must be a duration`},
		{map[string]string{"REEL_MAX_INFLIGHT": "-1"}, "REEL_MAX_INFLIGHT"},
		{map[string]string{"REEL_UPLOAD_EXPIRY": "0s"}, "REEL_UPLOAD_EXPIRY"},
		{map[string]string{"REEL_PREVIOUS_SECRET": "short"}, "REEL_PREVIOUS_SECRET"},
		{map[string]string{"REEL_MEDIA_DELIVERY": "cdn"}, "REEL_MEDIA_DELIVERY"},
		{map[string]string{"REEL_MEDIA_DELIVERY": "redirect"}, "redirect needs the blobs on S3"},
		{map[string]string{"REEL_MEDIA_DELIVERY": "redirect", "REEL_BLOB_URL": "file:///srv/blobs"}, "redirect needs the blobs on S3"},
	}
	for _, tc := range cases {
		_, _, err := load(t, nil, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: error %v, want it to mention %q", tc.env, err, tc.want)
		}
	}
	// Redirects need a store that can sign URLs of its own.
	if _, _, err := load(t, nil, map[string]string{"REEL_MEDIA_DELIVERY": "redirect", "REEL_BLOB_URL": "s3://videos/reel?endpoint=http://127.0.0.1:7070"}); err != nil {
		t.Errorf("redirect on S3: %v", err)
	}
	// A password in a database URL must not be echoed back.
	_, _, err := load(t, nil, map[string]string{"REEL_DATABASE_URL": "mysql://u:hunter2@h/db"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v leaks the password", err)
	}
	// An unknown flag is an error too.
	if _, _, err := load(t, []string{"--no-such-flag"}, nil); err == nil {
		t.Error("unknown flag accepted")
	}
}

// The sign-up and login limits are N/DURATION or 0 (off); anything else stops
// the start with a message that names the variable and the expected form.
func TestLimits(t *testing.T) {
	c, _, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	signup, login, addr := c.Limits()
	if signup.String() != "20/1h0m0s" || login.String() != "5/5m0s" || addr.String() != "20/5m0s" {
		t.Errorf("default limits %v %v %v", signup, login, addr)
	}

	c, _, err = load(t, []string{"--login-limit", "3/1m"}, map[string]string{
		"REEL_SIGNUP_LIMIT": "1000/1m", "REEL_LOGIN_ADDR_LIMIT": "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	signup, login, addr = c.Limits()
	if signup.N != 1000 || signup.Per != time.Minute || login.N != 3 || login.Per != time.Minute || !addr.Off() {
		t.Errorf("limits %+v %+v %+v", signup, login, addr)
	}

	for _, name := range []string{"REEL_SIGNUP_LIMIT", "REEL_LOGIN_LIMIT", "REEL_LOGIN_ADDR_LIMIT"} {
		for _, bad := range []string{"20", "20/", "/1h", "x/1h", "-1/1h", "0/1h", "20/0s", "20/-1h", "20/1ns", "20/1 hour", "2.5/1h", "off"} {
			_, _, err := load(t, nil, map[string]string{name: bad})
			if err == nil || !strings.Contains(err.Error(), name+": invalid value") || !strings.Contains(err.Error(), "N/DURATION") {
				t.Errorf("%s=%q: error %v, want one naming the variable and N/DURATION", name, bad, err)
			}
		}
	}
}

// The API budgets are N/DURATION token buckets or 0 (off), with a window of
// whole seconds: the RateLimit-Policy header states it in seconds.
func TestAPILimits(t *testing.T) {
	c, _, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reads, writes, uploads := c.APILimits()
	if reads.String() != "3000/1m0s" || writes.String() != "600/1m0s" || uploads.String() != "120/1h0m0s" {
		t.Errorf("default API limits %v %v %v", reads, writes, uploads)
	}
	c, _, err = load(t, nil, map[string]string{"REEL_API_READ_LIMIT": "0", "REEL_API_WRITE_LIMIT": "10/90s"})
	if err != nil {
		t.Fatal(err)
	}
	if reads, writes, _ := c.APILimits(); !reads.Off() || writes.N != 10 || writes.Per != 90*time.Second {
		t.Errorf("API limits %+v %+v", reads, writes)
	}
	for _, name := range []string{"REEL_API_READ_LIMIT", "REEL_API_WRITE_LIMIT", "REEL_API_UPLOAD_LIMIT"} {
		for _, bad := range []string{"20", "x/1m", "0/1m", "20/500ms", "20/1500ms", "off"} {
			_, _, err := load(t, nil, map[string]string{name: bad})
			if err == nil || !strings.Contains(err.Error(), name+": invalid value") || !strings.Contains(err.Error(), "N/DURATION") {
				t.Errorf("%s=%q: error %v, want one naming the variable and N/DURATION", name, bad, err)
			}
		}
	}
}

func TestUnknown(t *testing.T) {
	got := Unknown([]string{"REEL_ADDR=:1", "REEL_ADRR=:2", "PATH=/bin", "REEL_TEST_POSTGRES_URL=x", "REEL_WORKRES=2"})
	if strings.Join(got, ",") != "REEL_ADRR,REEL_WORKRES" {
		t.Errorf("Unknown = %v", got)
	}
}

func TestVarsCoverEveryField(t *testing.T) {
	for _, v := range Vars() {
		if !strings.HasPrefix(v.Name, "REEL_") || v.Flag == "" || v.Doc == "" {
			t.Errorf("incomplete variable %+v", v)
		}
	}
}

func TestSecretGeneratedOnceAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := &Config{DataDir: dir}
	first, err := c.LoadSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < MinSecretLen {
		t.Fatalf("secret of %d bytes", len(first))
	}
	st, err := os.Stat(filepath.Join(dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret mode %v, want 0600", st.Mode().Perm())
	}
	again, err := c.LoadSecret()
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Error("secret changed between starts")
	}
	explicit, err := (&Config{DataDir: dir, Secret: strings.Repeat("k", 40)}).LoadSecret()
	if err != nil || string(explicit) != strings.Repeat("k", 40) {
		t.Errorf("REEL_SECRET not used: %q %v", explicit, err)
	}
}

func TestSecretConcurrentStartsAgree(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Go(func() {
			b, err := (&Config{DataDir: dir}).LoadSecret()
			got[i], errs[i] = string(b), err
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("start %d: %q %v, want %q", i, got[i], errs[i], got[0])
		}
	}
}

func TestSecretFileRefusedWhenUnsafe(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte(strings.Repeat("a", 64)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Config{DataDir: dir}).LoadSecret(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable secret: err = %v", err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Config{DataDir: dir}).LoadSecret(); err == nil {
		t.Error("short secret file accepted")
	}
}

func TestAdminAddrCanBeDisabled(t *testing.T) {
	lookup := func(k string) (string, bool) { return "", k == "REEL_ADMIN_ADDR" }
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c, _, err := Load(fs, nil, Getenv(lookup))
	if err != nil || c.AdminAddr != "" {
		t.Errorf("REEL_ADMIN_ADDR= : AdminAddr=%q err=%v, want disabled", c.AdminAddr, err)
	}
	c, _, err = load(t, []string{"--admin-addr="}, nil)
	if err != nil || c.AdminAddr != "" {
		t.Errorf("--admin-addr= : AdminAddr=%q err=%v, want disabled", c.AdminAddr, err)
	}
	c, _, err = load(t, nil, map[string]string{"REEL_ADMIN_ADDR": "off"})
	if err != nil || c.AdminAddr != "" {
		t.Errorf("REEL_ADMIN_ADDR=off: AdminAddr=%q err=%v", c.AdminAddr, err)
	}
}

// The README documents every variable: a new one must be added there too.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars() {
		if !strings.Contains(string(readme), "`"+v.Name+"`") {
			t.Errorf("README.md does not document %s", v.Name)
		}
	}
}

func TestAllowedHosts(t *testing.T) {
	c, _, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := os.Hostname()
	want := []string{"localhost", "127.0.0.1", "[::1]"}
	if norm, err := NormalizeHost(name); err == nil && !slices.Contains(want, norm) {
		want = append(want, norm)
	}
	if !slices.Equal(c.AllowedHosts, want) {
		t.Errorf("default REEL_ALLOWED_HOSTS %q, want %q", c.AllowedHosts, want)
	}
	c, _, err = load(t, nil, map[string]string{"REEL_ALLOWED_HOSTS": " Videos.Example.com ,*.cdn.example,::1,[2001:db8::1]:8443,10.0.0.1:80"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"videos.example.com", "*.cdn.example", "[::1]", "[2001:db8::1]:8443", "10.0.0.1:80"}; !slices.Equal(c.AllowedHosts, want) {
		t.Errorf("REEL_ALLOWED_HOSTS read as %q, want %q", c.AllowedHosts, want)
	}
	for _, bad := range []string{"https://videos.example.com", "videos.example.com/path", "user@host", "host:0", "host:99999", "host:http", "bad_label!.com", "a..b", "*."} {
		_, _, err := load(t, nil, map[string]string{"REEL_ALLOWED_HOSTS": "localhost," + bad})
		if err == nil || !strings.Contains(err.Error(), "REEL_ALLOWED_HOSTS") {
			t.Errorf("REEL_ALLOWED_HOSTS=%q: %v", bad, err)
		}
	}
}

func TestCORSOrigins(t *testing.T) {
	c, _, err := load(t, nil, nil)
	if err != nil || len(c.CORSOrigins) != 0 {
		t.Fatalf("default REEL_CORS_ORIGINS %q (%v), want none", c.CORSOrigins, err)
	}
	c, _, err = load(t, nil, map[string]string{"REEL_CORS_ORIGINS": " https://App.Example.com ,http://localhost:5173,https://x.example:443,http://[::1]:3000/,"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://app.example.com", "http://localhost:5173", "https://x.example", "http://[::1]:3000"}; !slices.Equal(c.CORSOrigins, want) {
		t.Errorf("REEL_CORS_ORIGINS read as %q, want %q", c.CORSOrigins, want)
	}
	for bad, why := range map[string]string{
		"*":                             "not allowed",
		"app.example.com":               "scheme://host",
		"https://app.example.com/x":     "without a path",
		"https://app.example.com?a":     "without a path",
		"ftp://app.example.com":         "scheme://host",
		"https://user@app.example":      "scheme://host",
		"https://*.example.com":         "wildcards",
		"https://app.example.com:0":     "bad port",
		"https://app.example.com#f":     "without a path",
		"https://app.example.com:99999": "bad port",
	} {
		_, _, err := load(t, nil, map[string]string{"REEL_CORS_ORIGINS": "https://ok.example," + bad})
		if err == nil || !strings.Contains(err.Error(), "REEL_CORS_ORIGINS") || !strings.Contains(err.Error(), why) {
			t.Errorf("REEL_CORS_ORIGINS=%q: %v, want an error saying %q", bad, err, why)
		}
	}
}

// Package config reads reel's configuration from REEL_* environment variables
// and matching command-line flags, fills in the documented defaults and
// validates every value, so that a bad setting stops the start with a message
// naming the variable instead of failing later at a distance.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/reel-video/reel/internal/auth"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/ratelimit"
	"github.com/reel-video/reel/internal/shared"
)

// Prefix starts the name of every environment variable reel reads.
const Prefix = "REEL_"

// Config is the whole configuration of a reel process. The env tags are the
// variable names (after Prefix) and part of the public contract; the doc tag
// is the help text, printed by --help and mirrored in the README.
type Config struct {
	Addr              string        `env:"ADDR" envDefault:":8080" doc:"public HTTP listener address"`
	AdminAddr         string        `env:"ADMIN_ADDR" envDefault:"127.0.0.1:6060" doc:"admin listener (pprof); empty or off disables it"`
	DataDir           string        `env:"DATA_DIR" envDefault:"./data" doc:"directory for everything the embedded defaults keep"`
	BlobURL           string        `env:"BLOB_URL" doc:"where videos are stored: file://PATH or s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true|false, with credentials from the standard AWS_* variables or shared files (default file://$REEL_DATA_DIR/blobs)"`
	MediaDelivery     string        `env:"MEDIA_DELIVERY" envDefault:"proxy" doc:"how media on S3 reaches players: proxy (reel streams it) or redirect (302 to a short-lived presigned URL; playlists are always served by reel)"`
	RedisURL          string        `env:"REDIS_URL" doc:"redis://[user:password@]host:port[/db] or rediss://... (TLS): caches, rate limits, view counts, revocations and live events shared by every node; unset keeps them in this process, as for one node"`
	DatabaseURL       string        `env:"DATABASE_URL" doc:"sqlite://PATH or postgres://user:pass@host:5432/db?sslmode=disable (default sqlite://$REEL_DATA_DIR/reel.db)"`
	PublicURL         string        `env:"PUBLIC_URL" doc:"base of absolute URLs handed to clients (default: derived from the request)"`
	AllowedHosts      []string      `env:"ALLOWED_HOSTS" doc:"comma-separated Host values believed when REEL_PUBLIC_URL is unset: NAME (any port), NAME:PORT or *.DOMAIN (default: localhost, 127.0.0.1, [::1] and the machine's host name)"`
	Secret            string        `env:"SECRET" doc:"signs tokens and media URLs, at least 32 bytes; all nodes must share it (default: generated into $REEL_DATA_DIR/secret)"`
	MaxUploadBytes    int64         `env:"MAX_UPLOAD_BYTES" envDefault:"2147483648" doc:"largest accepted video upload, in bytes"`
	Workers           int           `env:"WORKERS" doc:"concurrent transcodes in this process; 0 means this node only serves (default: half the CPUs, at least 1)"`
	LogLevel          string        `env:"LOG_LEVEL" envDefault:"info" doc:"debug, info, warn or error"`
	LogFormat         string        `env:"LOG_FORMAT" doc:"text or json (default: text on a terminal, json otherwise)"`
	TLSCert           string        `env:"TLS_CERT" doc:"PEM certificate file; with REEL_TLS_KEY serves HTTPS and HTTP/2 (default: plain HTTP/1.1 and h2c)"`
	TLSKey            string        `env:"TLS_KEY" doc:"PEM private key file for REEL_TLS_CERT"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s" doc:"how long in-flight requests may take to finish after SIGINT/SIGTERM"`
	TokenTTL          time.Duration `env:"TOKEN_TTL" envDefault:"168h" doc:"lifetime of session tokens"`
	SignupLimit       string        `env:"SIGNUP_LIMIT" envDefault:"20/1h" doc:"sign-ups per client address: N/DURATION (at most N in any DURATION), or 0 for no limit"`
	LoginLimit        string        `env:"LOGIN_LIMIT" envDefault:"5/5m" doc:"failed logins per username and client address: N/DURATION, or 0 for no limit"`
	LoginAddrLimit    string        `env:"LOGIN_ADDR_LIMIT" envDefault:"20/5m" doc:"failed logins per client address, whatever the username: N/DURATION, or 0 for no limit"`
	APIReadLimit      string        `env:"API_READ_LIMIT" envDefault:"3000/1m" doc:"API reads (GET, HEAD) per signed-in user, or per client address when signed out: a token bucket of N refilled at N per DURATION, or 0 for no limit"`
	APIWriteLimit     string        `env:"API_WRITE_LIMIT" envDefault:"600/1m" doc:"API writes (POST, PUT, PATCH, DELETE) per user or client address: N/DURATION token bucket, or 0 for no limit"`
	APIUploadLimit    string        `env:"API_UPLOAD_LIMIT" envDefault:"120/1h" doc:"uploads created (POST /api/v1/videos, tus POST /api/v1/uploads, Douyin publish) per user or client address: N/DURATION token bucket, or 0 for no limit"`
	RequestTimeout    time.Duration `env:"REQUEST_TIMEOUT" envDefault:"30s" doc:"deadline of an API request (uploads and media have their own)"`
	ReadHeaderTimeout time.Duration `env:"READ_HEADER_TIMEOUT" envDefault:"10s" doc:"time a client has to send request headers"`
	IdleTimeout       time.Duration `env:"IDLE_TIMEOUT" envDefault:"120s" doc:"how long an idle keep-alive connection stays open"`
	CORSOrigins       []string      `env:"CORS_ORIGINS" doc:"comma-separated origins (scheme://host[:port]) of web apps on other sites that may call /api/v1 from browsers, with credentials (default: none)"`
	TrustedProxies    []string      `env:"TRUSTED_PROXIES" doc:"comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed (default: none)"`
	UploadExpiry      time.Duration `env:"UPLOAD_EXPIRY" envDefault:"24h" doc:"unfinished resumable uploads are deleted after this"`
	MaxQueued         int           `env:"MAX_QUEUED" envDefault:"1000" doc:"new uploads get 503 while this many videos wait to be processed"`
	UserQuotaBytes    int64         `env:"USER_QUOTA_BYTES" envDefault:"0" doc:"bytes of originals one user may keep; over it uploads get 413 quota_exceeded (0: unlimited)"`
	UserPendingBytes  int64         `env:"USER_PENDING_BYTES" envDefault:"10737418240" doc:"bytes one user's unfinished resumable uploads may declare in the upload area (the node's upload directory on disk, the shared bucket on S3); over it new ones get 413 quota_exceeded (0: unlimited)"`
	MinFreeBytes      int64         `env:"MIN_FREE_BYTES" envDefault:"1073741824" doc:"free disk space every upload must leave in the data directory; an upload that does not fit gets 507 insufficient_storage"`
	PublishProbes     int           `env:"PUBLISH_PROBES" doc:"ffprobe/ffmpeg runs that uploads may do at once while the client waits; over it they wait up to 5s, then get 503 (default: the number of CPUs)"`
	MaxDuration       time.Duration `env:"MAX_DURATION" envDefault:"10m" doc:"longest accepted video"`
	MaxPixels         string        `env:"MAX_PIXELS" envDefault:"4096x2160" doc:"largest accepted frame, WIDTHxHEIGHT of a landscape frame (portrait frames may be HEIGHTxWIDTH)"`
	JobTimeout        time.Duration `env:"JOB_TIMEOUT" envDefault:"30m" doc:"longest one processing attempt may take"`
	URLTTL            time.Duration `env:"URL_TTL" envDefault:"6h" doc:"lifetime of signed media URLs"`
	PreviousSecret    string        `env:"PREVIOUS_SECRET" doc:"the secret before a rotation: tokens and media URLs it signed keep working until they expire"`
	URLBindClient     bool          `env:"URL_BIND_CLIENT" envDefault:"false" doc:"bind each media URL to the client address it was handed to (defeats shared CDN caching)"`
	StaleFor          time.Duration `env:"STALE_FOR" envDefault:"5m" doc:"while the database is unavailable, the anonymous feed's first page and video cards are served from the last copy read, marked with Age and Cache-Status, if it is at most this old; 0 turns it off"`
	MaxInFlight       int           `env:"MAX_INFLIGHT" envDefault:"1024" doc:"API requests (/api/v1 and /douyin, not uploads, event streams, media or health) this node serves at once; over it they get 503 with Retry-After at once; 0 for no limit"`
	SendBuffer        int           `env:"SEND_BUFFER" envDefault:"262144" doc:"socket send buffer of client connections, in bytes; 0 lets the kernel autotune it"`
}

// BlobLocation is where the blobs are (REEL_BLOB_URL, by default the
// directory blobs in the data directory).
func (c *Config) BlobLocation() (blob.Location, error) {
	return blob.ParseURL(c.BlobURL, filepath.Join(c.DataDir, "blobs"))
}

// Var describes one configuration variable for help texts and documentation.
type Var struct {
	Name    string // REEL_ADDR
	Flag    string // addr
	Default string // "" when derived or empty
	Doc     string
}

// Vars lists every configuration variable in declaration order.
func Vars() []Var {
	t := reflect.TypeFor[Config]()
	vars := make([]Var, 0, t.NumField())
	for f := range t.Fields() {
		name := f.Tag.Get("env")
		vars = append(vars, Var{
			Name:    Prefix + name,
			Flag:    strings.ReplaceAll(strings.ToLower(name), "_", "-"),
			Default: f.Tag.Get("envDefault"),
			Doc:     f.Tag.Get("doc"),
		})
	}
	return vars
}

// Load builds the configuration from getenv, overridden by the flags in args
// (--addr :9000 sets what REEL_ADDR would). fs receives one flag per variable,
// or only for the variables named in flags when any are, so that its usage
// lists what the command uses; the caller owns fs's name and output. Load
// returns the remaining positional arguments.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string, flags ...string) (*Config, []string, error) {
	environ := map[string]string{}
	for _, v := range Vars() {
		if val := getenv(v.Name); val != "" {
			environ[v.Name] = val
		}
		if len(flags) > 0 && !slices.Contains(flags, v.Name) {
			continue
		}
		fs.Func(v.Flag, v.Doc+defaultSuffix(v), func(s string) error {
			if s == "" && v.Name == Prefix+"ADMIN_ADDR" {
				s = "off" // --admin-addr= disables, as the empty variable does
			}
			environ[v.Name] = s
			return nil
		})
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, err
	}

	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ, Prefix: Prefix}); err != nil {
		return nil, nil, explain(err, environ)
	}
	c.fillDerived(environ)
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return &c, rest, nil
}

// Getenv adapts os.LookupEnv for Load: a variable set to the empty string is
// otherwise indistinguishable from an unset one, and for REEL_ADMIN_ADDR the
// empty string means "disabled", not "use the default".
func Getenv(lookup func(string) (string, bool)) func(string) string {
	return func(name string) string {
		v, ok := lookup(name)
		if ok && v == "" && name == Prefix+"ADMIN_ADDR" {
			return "off"
		}
		return v
	}
}

// Unknown returns the REEL_* names in environ (KEY=VALUE entries, as from
// os.Environ) that reel does not read: usually a typo worth reporting.
func Unknown(environ []string) []string {
	known := map[string]bool{}
	for _, v := range Vars() {
		known[v.Name] = true
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		// REEL_TEST_* configure the test suite, not the server.
		if strings.HasPrefix(name, Prefix) && !strings.HasPrefix(name, Prefix+"TEST_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// parseInterspersed parses flags anywhere among the positional arguments
// (reel user promote alice --data-dir /srv), which the flag package alone
// stops at; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		// Parse consumes a "--" it stops at: everything after it is positional.
		if consumed := len(args) - len(left); consumed > 0 && args[consumed-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// Pixels returns the long and short side of REEL_MAX_PIXELS.
func (c *Config) Pixels() (long, short int, err error) {
	w, h, ok := strings.Cut(strings.ToLower(c.MaxPixels), "x")
	a, err1 := strconv.Atoi(w)
	b, err2 := strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil || a < 16 || b < 16 {
		return 0, 0, errors.New("must be WIDTHxHEIGHT such as 4096x2160")
	}
	return max(a, b), min(a, b), nil
}

// Limits returns REEL_SIGNUP_LIMIT, REEL_LOGIN_LIMIT and
// REEL_LOGIN_ADDR_LIMIT, which Load has validated.
func (c *Config) Limits() (signup, login, loginAddr auth.Rate) {
	signup, _ = auth.ParseRate(c.SignupLimit)
	login, _ = auth.ParseRate(c.LoginLimit)
	loginAddr, _ = auth.ParseRate(c.LoginAddrLimit)
	return signup, login, loginAddr
}

// APILimits returns REEL_API_READ_LIMIT, REEL_API_WRITE_LIMIT and
// REEL_API_UPLOAD_LIMIT, which Load has validated.
func (c *Config) APILimits() (reads, writes, uploads ratelimit.Rate) {
	reads, _ = ratelimit.ParseRate(c.APIReadLimit)
	writes, _ = ratelimit.ParseRate(c.APIWriteLimit)
	uploads, _ = ratelimit.ParseRate(c.APIUploadLimit)
	return reads, writes, uploads
}

// TLS reports whether the server should speak HTTPS.
func (c *Config) TLS() bool { return c.TLSCert != "" }

func defaultSuffix(v Var) string {
	if v.Default == "" {
		return ""
	}
	return fmt.Sprintf(" (default %q)", v.Default)
}

// fillDerived sets the defaults that depend on other values or the machine.
func (c *Config) fillDerived(environ map[string]string) {
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "reel.db")
	}
	if _, set := environ[Prefix+"WORKERS"]; !set {
		c.Workers = max(1, runtime.NumCPU()/2)
	}
	if _, set := environ[Prefix+"PUBLISH_PROBES"]; !set {
		c.PublishProbes = runtime.NumCPU()
	}
	if _, set := environ[Prefix+"ALLOWED_HOSTS"]; !set {
		c.AllowedHosts = DefaultAllowedHosts()
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if isTerminal(os.Stderr) {
			c.LogFormat = "text"
		}
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// validate checks every value and names the variable of the first bad one.
func (c *Config) validate() error {
	var errs []error
	bad := func(name string, value any, why string) {
		errs = append(errs, fmt.Errorf("%s%s: invalid value %q: %s", Prefix, name, fmt.Sprint(value), why))
	}
	if err := checkHostPort(c.Addr); err != nil {
		bad("ADDR", c.Addr, err.Error())
	}
	if c.AdminAddr == "off" {
		c.AdminAddr = ""
	}
	if c.AdminAddr != "" {
		if err := checkHostPort(c.AdminAddr); err != nil {
			bad("ADMIN_ADDR", c.AdminAddr, err.Error())
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("DATA_DIR", c.DataDir, "must not be empty")
	}
	loc, err := c.BlobLocation()
	if err != nil {
		errs = append(errs, fmt.Errorf("%sBLOB_URL: %s", Prefix, err))
	}
	switch {
	case c.MediaDelivery != "proxy" && c.MediaDelivery != "redirect":
		bad("MEDIA_DELIVERY", c.MediaDelivery, "must be proxy or redirect")
	case c.MediaDelivery == "redirect" && err == nil && loc.S3 == nil:
		// Refused rather than quietly proxied: an operator who asks for
		// redirects expects the media traffic off reel's nodes.
		bad("MEDIA_DELIVERY", c.MediaDelivery, "redirect needs the blobs on S3 (REEL_BLOB_URL=s3://...); a disk store can only be served by reel (proxy)")
	}
	if c.RedisURL != "" {
		if _, err := shared.ParseURL(c.RedisURL); err != nil {
			// The URL may hold a password: name the variable, not the value.
			errs = append(errs, fmt.Errorf("%sREDIS_URL: %s", Prefix, err))
		}
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		// The URL may hold a password: name the variable, not the value.
		errs = append(errs, fmt.Errorf("%sDATABASE_URL: %s", Prefix, err))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("PUBLIC_URL", c.PublicURL, "must be an absolute http:// or https:// URL without query or fragment")
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if c.Secret != "" && len(c.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("%sSECRET: must be at least %d bytes long (it is %d)", Prefix, MinSecretLen, len(c.Secret)))
	}
	if _, _, err := c.Pixels(); err != nil {
		bad("MAX_PIXELS", c.MaxPixels, err.Error())
	}
	if c.SendBuffer < 0 {
		bad("SEND_BUFFER", c.SendBuffer, "must be 0 (kernel autotuning) or a number of bytes")
	}
	if c.StaleFor < 0 {
		bad("STALE_FOR", c.StaleFor, "must be 0 (off) or a duration such as 5m")
	}
	if c.MaxInFlight < 0 {
		bad("MAX_INFLIGHT", c.MaxInFlight, "must be 0 (no limit) or more")
	}
	if c.MaxQueued < 0 {
		bad("MAX_QUEUED", c.MaxQueued, "must be 0 (no limit) or more")
	}
	for name, n := range map[string]int64{"USER_QUOTA_BYTES": c.UserQuotaBytes, "USER_PENDING_BYTES": c.UserPendingBytes, "MIN_FREE_BYTES": c.MinFreeBytes} {
		if n < 0 {
			bad(name, n, "must be 0 or a number of bytes")
		}
	}
	if c.PublishProbes < 1 {
		bad("PUBLISH_PROBES", c.PublishProbes, "must be 1 or more")
	}
	if c.PreviousSecret != "" && len(c.PreviousSecret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("%sPREVIOUS_SECRET: must be at least %d bytes long", Prefix, MinSecretLen))
	}
	for name, v := range map[string]string{"SIGNUP_LIMIT": c.SignupLimit, "LOGIN_LIMIT": c.LoginLimit, "LOGIN_ADDR_LIMIT": c.LoginAddrLimit} {
		if _, err := auth.ParseRate(v); err != nil {
			bad(name, v, err.Error())
		}
	}
	// The RateLimit-Policy header states the window in whole seconds.
	for name, v := range map[string]string{"API_READ_LIMIT": c.APIReadLimit, "API_WRITE_LIMIT": c.APIWriteLimit, "API_UPLOAD_LIMIT": c.APIUploadLimit} {
		if r, err := ratelimit.ParseRate(v); err != nil {
			bad(name, v, err.Error())
		} else if !r.Off() && (r.Per < time.Second || r.Per%time.Second != 0) {
			bad(name, v, "must have a DURATION of whole seconds, at least 1s, in N/DURATION")
		}
	}
	if c.MaxUploadBytes <= 0 {
		bad("MAX_UPLOAD_BYTES", c.MaxUploadBytes, "must be a positive number of bytes")
	}
	if c.Workers < 0 {
		bad("WORKERS", c.Workers, "must be 0 or more")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("LOG_LEVEL", c.LogLevel, "must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", c.LogFormat, "must be text or json")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, fmt.Errorf("%sTLS_CERT and %sTLS_KEY must be set together", Prefix, Prefix))
	}
	for name, d := range map[string]time.Duration{
		"SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "TOKEN_TTL": c.TokenTTL, "REQUEST_TIMEOUT": c.RequestTimeout,
		"READ_HEADER_TIMEOUT": c.ReadHeaderTimeout, "IDLE_TIMEOUT": c.IdleTimeout,
		"UPLOAD_EXPIRY": c.UploadExpiry, "MAX_DURATION": c.MaxDuration, "JOB_TIMEOUT": c.JobTimeout, "URL_TTL": c.URLTTL,
	} {
		if d <= 0 {
			bad(name, d, "must be a positive duration such as 30s")
		}
	}
	for i, h := range c.AllowedHosts {
		norm, err := NormalizeHost(h)
		if err != nil {
			bad("ALLOWED_HOSTS", h, err.Error())
		}
		c.AllowedHosts[i] = norm
	}
	origins := c.CORSOrigins[:0]
	for _, o := range c.CORSOrigins {
		if strings.TrimSpace(o) == "" {
			continue // a trailing comma
		}
		norm, err := NormalizeOrigin(o)
		if err != nil {
			bad("CORS_ORIGINS", o, err.Error())
		}
		origins = append(origins, norm)
	}
	c.CORSOrigins = origins
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("TRUSTED_PROXIES", p, "must be an IP address or CIDR prefix")
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// DefaultAllowedHosts are the Host values believed when neither
// REEL_PUBLIC_URL nor REEL_ALLOWED_HOSTS is set: the loopback names, with
// any port, and this machine's host name.
func DefaultAllowedHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "[::1]"}
	if name, err := os.Hostname(); err == nil {
		if norm, err := NormalizeHost(name); err == nil && !slices.Contains(hosts, norm) {
			hosts = append(hosts, norm)
		}
	}
	return hosts
}

// NormalizeHost checks one REEL_ALLOWED_HOSTS entry and returns it lower-case
// with IPv6 addresses in brackets: NAME or IP (any port), NAME:PORT or
// [IPv6]:PORT (that port only), or *.DOMAIN (any name under DOMAIN).
func NormalizeHost(entry string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(entry))
	if h == "" || strings.ContainsAny(h, "/\\@?#% \t") {
		return "", errors.New("must be a host name or address, optionally with :PORT (no scheme or path)")
	}
	host, port := h, ""
	if hp, p, err := net.SplitHostPort(h); err == nil {
		host, port = hp, p
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("bad port %q", p)
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String()
		if a.Is6() {
			host = "[" + host + "]"
		}
	} else {
		name := strings.TrimPrefix(host, "*.")
		for _, label := range strings.Split(name, ".") {
			if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
				return "", errors.New("must be a host name (letters, digits, '-', '.'), an IP address or *.DOMAIN")
			}
		}
	}
	if port != "" {
		return host + ":" + port, nil
	}
	return host, nil
}

// NormalizeOrigin checks one REEL_CORS_ORIGINS entry and returns it as
// browsers send it in Origin: lower case, without a default port. "*" is
// refused: these origins get credentialed answers (and pass the session
// cookie's CSRF check), which must name each origin.
func NormalizeOrigin(entry string) (string, error) {
	o := strings.TrimSpace(entry)
	if o == "*" {
		return "", errors.New(`"*" is not allowed: the listed origins may send credentials, so list each one, such as https://app.example.com`)
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") {
		return "", errors.New("must be an origin, scheme://host[:port] such as https://app.example.com, without a path")
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("bad port %q", port)
		}
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = strings.TrimSuffix(host, ":"+port)
		}
	}
	if strings.Contains(host, "*") {
		return "", errors.New("must name one origin: wildcards are not allowed")
	}
	return scheme + "://" + host, nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port, such as :8080 or 127.0.0.1:8080")
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func checkDatabaseURL(raw string) error {
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		return errors.New("must start with sqlite:// or postgres://")
	case scheme == "sqlite":
		if rest == "" {
			return errors.New("sqlite:// needs a file path, such as sqlite://./data/reel.db")
		}
	case scheme == "postgres" || scheme == "postgresql":
		if _, err := url.Parse(raw); err != nil {
			return errors.New("is not a valid postgres:// URL")
		}
	default:
		return fmt.Errorf("unsupported scheme %q: use sqlite:// or postgres://", scheme)
	}
	return nil
}

// explain rewrites the env library's errors, which speak of Go field names
// and strconv, into messages that name the variable and say what is expected.
func explain(err error, environ map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeFor[Config]()
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		f, ok := reflect.StructField{}, false
		if errors.As(e, &pe) {
			f, ok = t.FieldByName(pe.Name)
		}
		if !ok {
			errs = append(errs, e)
			continue
		}
		name := Prefix + f.Tag.Get("env")
		want := "a valid value"
		switch f.Type {
		case reflect.TypeFor[time.Duration]():
			want = "a duration such as 30s, 5m or 1h"
		case reflect.TypeFor[int](), reflect.TypeFor[int64]():
			want = "a whole number"
		}
		errs = append(errs, fmt.Errorf("%s: invalid value %q: must be %s", name, environ[name], want))
	}
	return errors.Join(errs...)
}

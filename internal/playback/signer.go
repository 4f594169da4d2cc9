package playback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/maypok86/otter/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reel-video/reel/internal/blob"
)

// Mount is the URL path under which media is served. The handler must be
// mounted there without stripping it: the signed path includes it.
const Mount = "/media/"

// prefixed starts the path form: Mount + prefixed + token + "/" + key.
const prefixed = "s/"

// keyLabel derives the media URL key from the server secret, so that a
// signature made here can never be replayed as, say, a session token.
const keyLabel = "reel media url v1"

// Errors returned by Verify. Every error wraps one of them; the text after
// the colon is the internal reason, for logs only.
var (
	ErrExpired = errors.New("media URL has expired")
	ErrInvalid = errors.New("media URL is not valid")
)

// Signer signs media URLs with the current secret and verifies them against
// the current and the previous one.
type Signer struct {
	keys       map[string][]byte // key id → HMAC key
	currentKID string
	ttl        time.Duration
	now        func() time.Time // a field so that tests can move time
	// signed remembers URLs already signed: within an expiry window the
	// same path and options give the same URL, and a feed page asks for
	// dozens of them per request.
	signed *otter.Cache[signedKey, string]
}

type signedKey struct {
	path, prefix string
	ip           netip.Addr
	gen          int64
	exp          int64
}

// NewSigner returns a Signer whose URLs live for ttl. previous is the secret
// that was current before the last rotation, or nil. It panics on an empty
// current secret or a ttl that is not positive, which are wiring mistakes.
func NewSigner(current, previous []byte, ttl time.Duration) *Signer {
	if len(current) == 0 {
		panic("playback: NewSigner: empty secret")
	}
	if ttl <= 0 {
		panic("playback: NewSigner: ttl must be positive")
	}
	s := &Signer{keys: map[string][]byte{}, ttl: ttl, now: time.Now,
		signed: otter.Must(&otter.Options[signedKey, string]{
			MaximumSize: 200_000,
			// A window lasts a quarter of the TTL: entries are useless after it.
			ExpiryCalculator: otter.ExpiryWriting[signedKey, string](max(ttl/4, time.Second)),
		})}
	if len(previous) > 0 {
		kid, key := deriveKey(previous)
		s.keys[kid] = key
	}
	kid, key := deriveKey(current)
	s.keys[kid] = key
	s.currentKID = kid
	return s
}

func deriveKey(secret []byte) (kid string, key []byte) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(keyLabel))
	key = m.Sum(nil)
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4]), key
}

// A SignOption changes what SignPath signs.
type SignOption func(*signOptions)

type signOptions struct {
	prefix string
	ip     netip.Addr
	gen    int64
}

// WithPrefix signs every path under prefix, which must end with "/" and
// contain the signed path, e.g. "/media/videos/42/hls/" for its master
// playlist: the URL then takes the path form (see the package comment).
func WithPrefix(prefix string) SignOption {
	return func(o *signOptions) { o.prefix = prefix }
}

// WithClientIP binds the URL to one client address, as Verify will see it in
// the request's RemoteAddr. It panics when ip is not an IP address.
func WithClientIP(ip string) SignOption {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		panic(fmt.Sprintf("playback: WithClientIP(%q): %v", ip, err))
	}
	return func(o *signOptions) { o.ip = canonicalAddr(addr) }
}

// WithGeneration signs the URL for one media generation of its video (see
// Revocations): once the video's generation moves past gen, the URL stops
// working although its signature is still good. Generation 0 adds nothing
// to the URL, so URLs of videos never revoked keep their shortest form.
func WithGeneration(gen int64) SignOption {
	return func(o *signOptions) { o.gen = max(gen, 0) }
}

// SignPath returns a signed URL (path and query, no scheme or host) for path,
// a URL path under Mount such as "/media/videos/42/cover.jpg". Paths come
// from the server, never from a client, so one that cannot be signed is a
// programming mistake and SignPath panics.
func (s *Signer) SignPath(path string, opts ...SignOption) string {
	var o signOptions
	for _, opt := range opts {
		opt(&o)
	}
	k := signedKey{path: path, prefix: o.prefix, ip: o.ip, gen: o.gen, exp: s.expiry()}
	if url, ok := s.signed.GetIfPresent(k); ok {
		return url
	}
	url := s.signPath(path, o, k.exp)
	s.signed.Set(k, url)
	return url
}

func (s *Signer) signPath(path string, o signOptions, exp int64) string {
	key, ok := strings.CutPrefix(path, Mount)
	if !ok {
		panic(fmt.Sprintf("playback: SignPath(%q): path is not under %s", path, Mount))
	}
	if reason := keyProblem(key); reason != "" {
		panic(fmt.Sprintf("playback: SignPath(%q): %s", path, reason))
	}
	c := claims{kid: s.currentKID, exp: exp, ip: o.ip, gen: o.gen}
	if o.prefix == "" {
		c.form, c.scope = formObject, path
		return path + "?" + objectQuery(c, s.sign(c))
	}

	dir, ok := strings.CutPrefix(o.prefix, Mount)
	if !ok || !strings.HasSuffix(dir, "/") || !strings.HasPrefix(key, dir) ||
		keyProblem(strings.TrimSuffix(dir, "/")) != "" {
		panic(fmt.Sprintf("playback: SignPath(%q, WithPrefix(%q)): the prefix must be a directory under %s holding the path", path, o.prefix, Mount))
	}
	c.form, c.scope = formPrefix, o.prefix
	c.depth = strings.Count(dir, "/")
	token := []string{c.kid, strconv.FormatInt(c.exp, 10), strconv.Itoa(c.depth)}
	if c.gen > 0 {
		token = append(token, "g"+strconv.FormatInt(c.gen, 10))
	}
	if c.ip.IsValid() {
		token = append(token, hex.EncodeToString(c.ip.AsSlice()))
	}
	token = append(token, s.sign(c))
	return Mount + prefixed + strings.Join(token, ".") + "/" + key
}

// MaxLifetime is the longest a URL signed now can work: its lifetime plus
// the rounding of its expiry.
func (s *Signer) MaxLifetime() time.Duration {
	return s.ttl + max(s.ttl/4, time.Second)
}

// Expiry is the expiry a URL signed now carries: the URLs of one key
// signed under the same expiry are the same, so what embeds them may be
// kept while it lasts.
func (s *Signer) Expiry() int64 { return s.expiry() }

// expiry rounds the end of the lifetime up to a quarter of it (see the
// package comment on caching).
func (s *Signer) expiry() int64 {
	step := int64(max(s.ttl/4, time.Second) / time.Second)
	end := s.now().Add(s.ttl).Unix()
	return (end + step - 1) / step * step
}

// Verify checks the signed URL of r and returns the blob key it grants, e.g.
// "videos/42/hls/720p/seg_00001.m4s". The client address of a bound URL is
// the host of r.RemoteAddr (or all of it, when it is a bare address): behind
// a proxy, set RemoteAddr from the trusted forwarding header first, with the
// rule used to pick the address given to WithClientIP.
func (s *Signer) Verify(r *http.Request) (blobKey string, err error) {
	g, err := s.verify(r)
	return g.Key, err
}

// A Grant is what a verified media URL allows.
type Grant struct {
	Key        string    // the blob key, e.g. "videos/42/hls/720p/seg_00001.m4s"
	Generation int64     // the media generation it was signed for (WithGeneration)
	Expires    time.Time // when the URL stops working
}

// verify is Verify with the whole grant: the expiry, so that caches are
// never told to keep an answer longer than its URL works, and the
// generation, which revocations are checked against.
func (s *Signer) verify(r *http.Request) (g Grant, err error) {
	var blobKey string
	u := r.URL
	// RawPath is set only when the client escaped something that needed no
	// escaping (%2e, %2f, %41): one URL, one spelling.
	if u.Opaque != "" || u.RawPath != "" {
		return g, invalid("path is percent-encoded")
	}
	rest, ok := strings.CutPrefix(u.Path, Mount)
	if !ok {
		return g, invalid("path is not under " + Mount)
	}
	var c claims
	var sig string
	if token, ok := strings.CutPrefix(rest, prefixed); ok {
		blobKey, c, sig, err = parsePrefixed(token, u.RawQuery, u.ForceQuery)
	} else {
		blobKey, c, sig, err = parseObject(rest, u.RawQuery)
	}
	if err != nil {
		return g, err
	}
	if err := s.check(r, c, sig); err != nil {
		return g, err
	}
	return Grant{Key: blobKey, Generation: c.gen, Expires: time.Unix(c.exp, 0)}, nil
}

// check is the same for both forms: a known key, a matching signature, the
// right client, not expired, in that order, so that "expired" is only ever
// said of a URL this server did sign.
func (s *Signer) check(r *http.Request, c claims, sig string) error {
	if _, ok := s.keys[c.kid]; !ok {
		return invalid(fmt.Sprintf("unknown key id %.16q", c.kid))
	}
	if !hmac.Equal([]byte(sig), []byte(s.sign(c))) {
		return invalid("signature mismatch")
	}
	if c.ip.IsValid() {
		client, ok := remoteAddr(r.RemoteAddr)
		if !ok || client != c.ip {
			return invalid(fmt.Sprintf("bound to another client address (%s)", r.RemoteAddr))
		}
	}
	if !s.now().Before(time.Unix(c.exp, 0)) {
		return fmt.Errorf("%w: expired at %s", ErrExpired, time.Unix(c.exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// claims are what a signature vouches for.
type claims struct {
	form  string // formObject or formPrefix
	scope string // the signed URL path, or the signed prefix ending with "/"
	depth int    // segments of the prefix after Mount; formPrefix only
	exp   int64  // Unix seconds; the URL is valid before this instant
	kid   string
	ip    netip.Addr // the zero Addr when not bound
	gen   int64      // the video's media generation; 0 when never revoked
}

const (
	formObject = "object"
	formPrefix = "prefix"
)

// sign is the MAC over claims. The fields are joined with NUL, which a
// verified path can never contain, so no two claims share a message.
func (s *Signer) sign(c claims) string {
	ip := ""
	if c.ip.IsValid() {
		ip = c.ip.String()
	}
	m := hmac.New(sha256.New, s.keys[c.kid])
	fmt.Fprintf(m, "%s\x00%s\x00%s\x00%d\x00%s\x00%s", keyLabel, c.form, c.scope, c.exp, c.kid, ip)
	if c.gen > 0 {
		// Only then, so that URLs signed before generations existed still verify.
		fmt.Fprintf(m, "\x00g%d", c.gen)
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// objectQuery is the query of the object form, always spelled the same way.
func objectQuery(c claims, sig string) string {
	q := "exp=" + strconv.FormatInt(c.exp, 10) + "&kid=" + c.kid
	if c.ip.IsValid() {
		q += "&ip=" + url.QueryEscape(c.ip.String())
	}
	if c.gen > 0 {
		q += "&gen=" + strconv.FormatInt(c.gen, 10)
	}
	return q + "&sig=" + sig
}

// parseObject reads /media/<key>?exp=&kid=[&ip=]&sig=, exactly as SignPath
// spells it: the same URL reordered or escaped differently is refused, so
// that one grant has one URL (and one cache entry).
func parseObject(key, rawQuery string) (string, claims, string, error) {
	if reason := keyProblem(key); reason != "" {
		return "", claims{}, "", invalid("key " + reason)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", claims{}, "", invalid("malformed query")
	}
	for name, vs := range q {
		switch {
		case name != "exp" && name != "kid" && name != "sig" && name != "ip" && name != "gen":
			return "", claims{}, "", invalid("unexpected query parameter " + strconv.Quote(name))
		case len(vs) != 1:
			return "", claims{}, "", invalid("repeated query parameter " + name)
		}
	}
	c := claims{form: formObject, scope: Mount + key, kid: q.Get("kid")}
	if c.exp, err = parseExp(q.Get("exp")); err != nil {
		return "", claims{}, "", err
	}
	if vs, ok := q["ip"]; ok {
		addr, err := netip.ParseAddr(vs[0])
		if err != nil || addr != canonicalAddr(addr) || addr.String() != vs[0] {
			return "", claims{}, "", invalid("malformed ip")
		}
		c.ip = addr
	}
	if vs, ok := q["gen"]; ok {
		if c.gen, err = parseGen(vs[0]); err != nil {
			return "", claims{}, "", err
		}
	}
	sig := q.Get("sig")
	if objectQuery(c, sig) != rawQuery {
		return "", claims{}, "", invalid("query is not spelled as signed")
	}
	return key, c, sig, nil
}

// parsePrefixed reads <kid>.<exp>.<depth>[.g<gen>][.<ip hex>].<sig>/<key>, the part of
// the path form after Mount + prefixed. It allows no query: players drop the
// base's query when they resolve relative URLs, so none is ever handed out.
func parsePrefixed(rest, rawQuery string, forceQuery bool) (string, claims, string, error) {
	if rawQuery != "" || forceQuery {
		return "", claims{}, "", invalid("query on a prefix-signed URL")
	}
	token, key, ok := strings.Cut(rest, "/")
	if !ok {
		return "", claims{}, "", invalid("no key after the token")
	}
	if reason := keyProblem(key); reason != "" {
		return "", claims{}, "", invalid("key " + reason)
	}
	f := strings.Split(token, ".")
	if len(f) < 4 || len(f) > 6 {
		return "", claims{}, "", invalid("malformed token")
	}
	c := claims{form: formPrefix, kid: f[0]}
	var err error
	if c.exp, err = parseExp(f[1]); err != nil {
		return "", claims{}, "", err
	}
	if c.depth, err = strconv.Atoi(f[2]); err != nil || c.depth < 1 || strconv.Itoa(c.depth) != f[2] {
		return "", claims{}, "", invalid("malformed depth")
	}
	// Between the depth and the signature: the generation ("g" and digits,
	// which hex never starts with), then the client address, each optional.
	extra := f[3 : len(f)-1]
	if len(extra) > 0 && strings.HasPrefix(extra[0], "g") {
		if c.gen, err = parseGen(extra[0][1:]); err != nil {
			return "", claims{}, "", err
		}
		extra = extra[1:]
	}
	if len(extra) > 1 {
		return "", claims{}, "", invalid("malformed token")
	}
	if len(extra) == 1 {
		b, err := hex.DecodeString(extra[0])
		addr, ok := netip.AddrFromSlice(b)
		if err != nil || !ok || addr != canonicalAddr(addr) || hex.EncodeToString(b) != extra[0] {
			return "", claims{}, "", invalid("malformed ip")
		}
		c.ip = addr
	}
	segs := strings.Split(key, "/")
	if len(segs) <= c.depth {
		return "", claims{}, "", invalid("path is not under the signed prefix")
	}
	c.scope = Mount + strings.Join(segs[:c.depth], "/") + "/"
	return key, c, f[len(f)-1], nil
}

// parseExp accepts only the canonical decimal form that SignPath writes, so
// "+17…" or "017…" cannot pass as the same expiry.
func parseExp(s string) (int64, error) {
	exp, err := strconv.ParseInt(s, 10, 64)
	if err != nil || exp <= 0 || strconv.FormatInt(exp, 10) != s {
		return 0, invalid("malformed exp")
	}
	return exp, nil
}

// parseGen accepts only the canonical positive decimal form that SignPath
// writes: generation 0 is spelled by leaving it out.
func parseGen(s string) (int64, error) {
	gen, err := strconv.ParseInt(s, 10, 64)
	if err != nil || gen <= 0 || strconv.FormatInt(gen, 10) != s {
		return 0, invalid("malformed generation")
	}
	return gen, nil
}

// keyProblem says why key cannot appear in a media URL: it must be a valid
// blob key spelled only with characters that need no escaping in a path, and
// must not start with the reserved "s/".
func keyProblem(key string) string {
	if err := blob.ValidKey(key); err != nil {
		return "is not a valid blob key"
	}
	for i := 0; i < len(key); i++ {
		if !urlSafe(key[i]) {
			return fmt.Sprintf("has a character that needs escaping (%q)", key[i])
		}
	}
	if strings.HasPrefix(key, prefixed) {
		return "starts with the reserved segment " + prefixed
	}
	return ""
}

func urlSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '/'
}

// remoteAddr parses RemoteAddr as "host:port" or as a bare address.
func remoteAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return canonicalAddr(ap.Addr()), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return canonicalAddr(a), true
	}
	return netip.Addr{}, false
}

// canonicalAddr makes one spelling of an address: IPv4 clients reached over
// an IPv6 socket appear as ::ffff:a.b.c.d, and zones are local detail.
func canonicalAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalid, reason) }

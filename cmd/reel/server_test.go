package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRequestID(t *testing.T) {
	srv := startServer(t, nil)
	r := srv.do("GET", "/healthz", "", nil, "X-Request-ID", "lb-7f3a_9")
	if got := r.Header.Get("X-Request-ID"); got != "lb-7f3a_9" {
		t.Errorf("sent request id not honoured: %q", got)
	}
	r = srv.do("GET", "/api/v1/nope", "", nil)
	generated := r.Header.Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(generated) {
		t.Errorf("generated request id %q", generated)
	}
	r = srv.do("GET", "/healthz", "", nil, "X-Request-ID", `"><script>`)
	if got := r.Header.Get("X-Request-ID"); strings.Contains(got, "<") {
		t.Errorf("hostile request id echoed: %q", got)
	}
	// The access log carries the id, so one request can be followed.
	found := false
	for _, l := range srv.stderr.logLines() {
		if l["msg"] == "request" && l["request_id"] == generated && l["status"] == float64(404) && l["route"] == "unmatched" {
			found = true
		}
	}
	if !found {
		t.Errorf("no access log line for request %s:\n%s", generated, srv.stderr)
	}
}

func TestHealthReadinessMetricsAndPprof(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_ADMIN_ADDR": "127.0.0.1:0"})

	r := srv.do("GET", "/healthz", "", nil)
	expect(t, r, 200, "")
	if strings.TrimSpace(string(r.Body)) != `{"status":"ok"}` {
		t.Errorf("/healthz = %s", r.Body)
	}

	r = srv.do("GET", "/readyz", "", nil)
	expect(t, r, 200, "")
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	r.json(t, &ready)
	if ready.Status != "ok" || ready.Checks["database"] != "ok" || ready.Checks["ffmpeg"] != "found" {
		t.Errorf("/readyz = %s", r.Body)
	}

	srv.do("GET", "/api/v1/users/1", "", nil)
	r = srv.do("GET", "/metrics", "", nil)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`reel_http_requests_total{method="GET",route="/api/v1/users/:id",status="404"} 1`,
		`reel_http_request_duration_seconds_bucket{method="GET",route="/readyz",status="200",le="+Inf"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// pprof answers on the admin listener only.
	expect(t, srv.do("GET", "/debug/pprof/", "", nil), 404, "not_found")
	resp, err := http.Get(srv.Admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Errorf("admin pprof: %d %.200s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(srv.Admin, "http://127.0.0.1:") {
		t.Errorf("admin listener on %s", srv.Admin)
	}
}

func TestH2C(t *testing.T) {
	srv := startServer(t, nil)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("h2c: status %d over %s", resp.StatusCode, resp.Proto)
	}
}

func TestTLSServesHTTP2(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	srv := startServer(t, map[string]string{"REEL_TLS_CERT": certFile, "REEL_TLS_KEY": keyFile})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if resp, err = client.Get(srv.URL + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("TLS: status %d over %s", resp.StatusCode, resp.Proto)
	}
	// Plain HTTP to the TLS port gets no API answer.
	if r, err := http.Get(strings.Replace(srv.URL, "https://", "http://", 1) + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS listener")
		}
	}
}

// TestSlowClientsAreCut checks the per-request deadlines: a client that
// never finishes its headers, or its body, loses the connection.
func TestSlowClientsAreCut(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_READ_HEADER_TIMEOUT": "1s", "REEL_REQUEST_TIMEOUT": "1s"})
	addr := strings.TrimPrefix(srv.URL, "http://")

	conn := dial(t, addr)
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: reel\r\n")
	if _, err := io.ReadAll(conn); err != nil && !isClosedErr(err) {
		t.Errorf("half-sent headers: connection not closed by the server: %v", err)
	}

	conn = dial(t, addr)
	fmt.Fprint(conn, "POST /api/v1/users HTTP/1.1\r\nHost: reel\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"user")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("half-sent body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "in time") {
		t.Errorf("half-sent body: %d %s", resp.StatusCode, body)
	}
}

// dial connects with a deadline far beyond the server's timeouts, so a hang
// shows as a failure rather than a stuck test.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn
}

func isClosedErr(err error) bool {
	return strings.Contains(err.Error(), "reset by peer")
}

// TestSIGTERMDrainsInFlightRequest sends SIGTERM to the process while a
// registration is half sent: the server stops accepting connections, the
// registration still completes, and run returns nil (exit status 0).
func TestSIGTERMDrainsInFlightRequest(t *testing.T) {
	srv := startServer(t, nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	body := `{"username":"grace","password":"secret-1"}`
	conn := dial(t, addr)
	fmt.Fprintf(conn, "POST /api/v1/users HTTP/1.1\r\nHost: reel\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])

	// In flight: the metrics request itself plus the half-sent registration.
	waitFor(t, "the registration to be in flight", func() bool {
		return strings.Contains(string(srv.do("GET", "/metrics", "", nil).Body), "reel_http_requests_in_flight 2")
	})
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})

	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(reply), `"username":"grace"`) {
		t.Errorf("in-flight request: %d %s", resp.StatusCode, reply)
	}
	select {
	case err := <-srv.done:
		if err != nil {
			t.Errorf("run after SIGTERM = %v, want nil", err)
		}
		close(srv.done)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit after draining")
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtimeYield()
	}
}

// runtimeYield gives other goroutines a moment between polls.
func runtimeYield() { <-time.After(10 * time.Millisecond) }

func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "reel test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/playback"
)

// benchSecret is REEL_SECRET for the delivery scenarios: the bench signs
// media URLs with it, so that the server accepts them.
const benchSecret = "reel-bench-delivery-secret-0123456789-abcdefghij"

// installDelivery is what the delivery scenarios need beyond Go and ffmpeg.
// (nginx-light is only a transitional name for nginx since Debian 12.)
const installDelivery = "apt-get install -y nginx wrk"

// deliveryOptions size the delivery scenarios.
type deliveryOptions struct {
	segments     int           // HLS segments in the rendition
	segmentBytes int           // each: 4 s of 720p at about 2.4 Mbit/s
	mp4Bytes     int64         // the progressive MP4 read in ranges
	rangeBytes   int64         // one Range request
	wrkFor       time.Duration // one measured wrk run
	warmup       time.Duration // an unmeasured wrk run per server before each load
	segConns     []int
	rangeConns   []int
	slowReaders  int
	slowFor      time.Duration // how long every slow reader reads
	slowChunk    int           // a slow reader reads this much ...
	slowEvery    time.Duration // ... this often
}

func fullDelivery() deliveryOptions {
	return deliveryOptions{
		segments: 40, segmentBytes: 1_200_000, mp4Bytes: 200 << 20, rangeBytes: 1 << 20,
		wrkFor: 10 * time.Second, warmup: 2 * time.Second,
		segConns: []int{64, 256}, rangeConns: []int{64, 256},
		slowReaders: 1000, slowFor: 10 * time.Second, slowChunk: 16 << 10, slowEvery: 100 * time.Millisecond,
	}
}

func smokeDelivery() deliveryOptions {
	return deliveryOptions{
		segments: 5, segmentBytes: 64 << 10, mp4Bytes: 4 << 20, rangeBytes: 1 << 20,
		wrkFor:   time.Second,
		segConns: []int{8}, rangeConns: []int{8},
		slowReaders: 50, slowFor: 2 * time.Second, slowChunk: 16 << 10, slowEvery: 100 * time.Millisecond,
	}
}

// deliveryTools finds wrk and nginx (which Debian keeps in /usr/sbin, off a
// normal user's PATH).
func deliveryTools() (wrk, nginx string, err error) {
	if wrk, err = exec.LookPath("wrk"); err != nil {
		return "", "", fmt.Errorf("wrk is missing: %s", installDelivery)
	}
	if nginx, err = exec.LookPath("nginx"); err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return "", "", fmt.Errorf("nginx is missing: %s", installDelivery)
		}
		nginx = "/usr/sbin/nginx"
	}
	return wrk, nginx, nil
}

// benchDelivery serves the same files from the same disk through reel and
// through nginx, and loads both the same way: reel with signed URLs, so
// that checking the signature is part of what is measured, nginx with the
// plain paths.
func benchDelivery(ctx context.Context, o options, dir string, out io.Writer) error {
	d := o.delivery
	wrkBin, nginxBin, err := deliveryTools()
	if err != nil {
		return err
	}
	// 1,000 readers take 1,000 descriptors here and as many in each server;
	// the servers and wrk inherit the limit.
	if err := raiseFileLimit(); err != nil {
		return err
	}
	// The objects go in through the blob store, in a directory reel is
	// told about (REEL_BLOB_URL) and nginx serves as its root.
	data, blobs := filepath.Join(dir, "data"), filepath.Join(dir, "blobs")
	store, err := blob.NewDisk(blobs)
	if err != nil {
		return err
	}
	defer store.Close()
	const hlsDir, mp4Key = "videos/1/hls/", "videos/1/play.mp4"
	var segKeys []string
	for i := range d.segments {
		key := fmt.Sprintf("%s720p/seg_%03d.m4s", hlsDir, i+1)
		if err := putRandom(ctx, store, key, int64(d.segmentBytes), uint64(i)); err != nil {
			return err
		}
		segKeys = append(segKeys, key)
	}
	if err := putRandom(ctx, store, mp4Key, d.mp4Bytes, 1000); err != nil {
		return err
	}

	// On two or more cores, each server runs alone on core 0 and wrk on core
	// 1: the servers no longer compete with the load generator, which on a
	// small machine decides the figures more than the servers do.
	pinned := canPin()
	reelEnv := []string{"REEL_WORKERS=0", "REEL_SECRET=" + benchSecret, "REEL_BLOB_URL=file://" + blobs}
	if pinned {
		serverPrefix = []string{"taskset", "-c", "0"}
		defer func() { serverPrefix = nil }()
		reelEnv = append(reelEnv, "GOMAXPROCS=1")
		fmt.Fprintln(out, "delivery: each server pinned to core 0 (reel GOMAXPROCS=1, nginx 1 worker, both with 256 KiB send buffers), wrk to core 1")
	}
	if pinned {
		wrkCore = "1"
		defer func() { wrkCore = "" }()
	}
	srv, err := startServer(o.bin, data, reelEnv...)
	if err != nil {
		return err
	}
	defer srv.stop()
	ngx, err := startNginx(nginxBin, filepath.Join(dir, "nginx"), blobs, pinned)
	if err != nil {
		return err
	}
	defer ngx.stop()

	// The same objects on both sides: signed under /media/ on reel, plain
	// paths on nginx, whose root is the blob store.
	signer := playback.NewSigner([]byte(benchSecret), nil, time.Hour)
	var reelSegs, ngxSegs []string
	for _, key := range segKeys {
		reelSegs = append(reelSegs, signer.SignPath(playback.Mount+key, playback.WithPrefix(playback.Mount+hlsDir)))
		ngxSegs = append(ngxSegs, "/"+key)
	}
	reelMP4, ngxMP4 := signer.SignPath(playback.Mount+mp4Key), "/"+mp4Key
	if err := checkDelivery(ctx, store, mp4Key, srv.url, "nginx", ngx.url, reelSegs[0], ngxSegs[0], reelMP4, ngxMP4, d); err != nil {
		return err
	}

	// Slow readers first, on servers that have served nothing yet: after the
	// throughput runs a Go heap has grown, and the growth would hide in it.
	slowName := fmt.Sprintf("%d slow readers, %s MP4", d.slowReaders, size(d.mp4Bytes))
	var reelGot, ngxGot int64
	reelRSS, err := srv.peakRSS(func() (err error) {
		reelGot, err = slowReaders(ctx, srv.url, reelMP4, d)
		return err
	})
	if err != nil {
		return fmt.Errorf("slow readers on reel: %w", err)
	}
	ngxRSS, err := peakRSS(ngx.pids(), func() (err error) {
		ngxGot, err = slowReaders(ctx, ngx.url, ngxMP4, d)
		return err
	})
	if err != nil {
		return fmt.Errorf("slow readers on nginx: %w", err)
	}
	var slowRows bytes.Buffer
	row(&slowRows, slowName+": peak RSS growth", fmt.Sprintf("%.1f MiB", reelRSS), fmt.Sprintf("%.1f MiB nginx", ngxRSS), ratio(reelRSS, ngxRSS))
	perReader := func(mib float64) float64 { return mib * 1024 / float64(d.slowReaders) }
	row(&slowRows, slowName+": per reader", fmt.Sprintf("%.1f KiB", perReader(reelRSS)), fmt.Sprintf("%.1f KiB nginx", perReader(ngxRSS)), ratio(reelRSS, ngxRSS))
	row(&slowRows, slowName+": MB/s read", fmt.Sprintf("%.0f", mbps(reelGot, d.slowFor)), fmt.Sprintf("%.0f nginx", mbps(ngxGot, d.slowFor)), ratio(float64(reelGot), float64(ngxGot)))

	script := func(kind, side string) string { return filepath.Join(dir, kind+"-"+side+".lua") }
	if err := writeSegmentsScript(script("segments", "reel"), reelSegs); err != nil {
		return err
	}
	if err := writeSegmentsScript(script("segments", "nginx"), ngxSegs); err != nil {
		return err
	}
	if err := writeRangesScript(script("ranges", "reel"), reelMP4, d.mp4Bytes, d.rangeBytes); err != nil {
		return err
	}
	if err := writeRangesScript(script("ranges", "nginx"), ngxMP4, d.mp4Bytes, d.rangeBytes); err != nil {
		return err
	}

	sides := []loadSide{{"reel", srv.url}, {"nginx", ngx.url}}
	compare := func(name, kind string, conns []int) error {
		return compareLoads(ctx, out, o, wrkBin, sides, script, name, kind, conns)
	}
	if err := compare(fmt.Sprintf("hls %s segments", size(int64(d.segmentBytes))), "segments", d.segConns); err != nil {
		return err
	}
	// The MP4's size is in the report, not the rows, which it would widen.
	if err := compare(fmt.Sprintf("mp4 %s ranges", size(d.rangeBytes)), "ranges", d.rangeConns); err != nil {
		return err
	}
	_, err = out.Write(slowRows.Bytes())
	return err
}

// loadSide is a server under load: reel, or the baseline it is compared with.
type loadSide struct{ name, url string }

// compareLoads loads reel (sides[0]) and the baseline (sides[1]) with the
// same requests, the wrk script script(kind, side.name), at each number of
// connections, and prints their figures side by side. Each load runs
// o.rounds times on each server, alternating which goes first, and the
// best run of each is kept: on a shared machine that is the figure least
// disturbed by whatever else ran at the time.
func compareLoads(ctx context.Context, out io.Writer, o options, wrkBin string, sides []loadSide, script func(kind, side string) string, name, kind string, conns []int) error {
	d := o.delivery
	w := wrk{bin: wrkBin}
	for _, s := range sides {
		if _, err := w.run(ctx, s.url, conns[0], d.warmup, script(kind, s.name)); err != nil {
			return fmt.Errorf("%s: warm-up on %s: %w", name, s.name, err)
		}
	}
	base := sides[1].name
	for _, c := range conns {
		var best [2]wrkResult // reel's, the baseline's
		for round := range o.rounds {
			for k := range sides {
				i := (k + round) % len(sides)
				s := sides[i]
				r, err := w.run(ctx, s.url, c, d.wrkFor, script(kind, s.name))
				if err != nil {
					return fmt.Errorf("%s, %d conns, on %s: %w", name, c, s.name, err)
				}
				if r.reqPerSec() > best[i].reqPerSec() {
					best[i] = r
				}
			}
		}
		r, n := best[0], best[1]
		label := fmt.Sprintf("%s, %d conns", name, c)
		if o.rounds > 1 {
			label += fmt.Sprintf(", best of %d", o.rounds)
		}
		row(out, label+": req/s", fmt.Sprintf("%.0f", r.reqPerSec()), fmt.Sprintf("%.0f %s", n.reqPerSec(), base), r.reqPerSec()/n.reqPerSec())
		row(out, label+": MB/s", fmt.Sprintf("%.0f", r.mbPerSec()), fmt.Sprintf("%.0f %s", n.mbPerSec(), base), r.mbPerSec()/n.mbPerSec())
		row(out, label+": p99", ms(r.p99), ms(n.p99)+" "+base, ratio(r.p99.Seconds(), n.p99.Seconds()))
	}
	return nil
}

// ratio is a/b, or 0 (no ratio printed) when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// size names a byte count as the bench's rows do: MiB and KiB when exact,
// decimal MB otherwise.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return fmt.Errorf("raise the open file limit: %w", err)
		}
	}
	return nil
}

// putRandom stores size incompressible bytes at key.
func putRandom(ctx context.Context, store blob.Store, key string, size int64, seed uint64) error {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	_, err := store.Put(ctx, key, io.LimitReader(rand.NewChaCha8(s), size))
	return err
}

// checkDelivery makes sure the load means what it says before it is run:
// reel and the baseline (base, at baseURL) return the whole segment and
// exact 1 MiB ranges of the MP4 at mp4Key in store, and reel refuses the
// MP4 without a signature.
func checkDelivery(ctx context.Context, store blob.Store, mp4Key, reelURL, base, baseURL, reelSeg, baseSeg, reelMP4, baseMP4 string, d deliveryOptions) error {
	obj, err := store.Open(ctx, mp4Key)
	if err != nil {
		return err
	}
	defer obj.Close()
	off := d.mp4Bytes / 3
	want := make([]byte, d.rangeBytes)
	if _, err := obj.Seek(off, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.ReadFull(obj, want); err != nil {
		return err
	}
	rng := fmt.Sprintf("bytes=%d-%d", off, off+d.rangeBytes-1)
	for _, c := range []struct {
		name, url, rng string
		status         int
		size           int64
	}{
		{"reel segment", reelURL + reelSeg, "", http.StatusOK, int64(d.segmentBytes)},
		{base + " segment", baseURL + baseSeg, "", http.StatusOK, int64(d.segmentBytes)},
		{"reel range", reelURL + reelMP4, rng, http.StatusPartialContent, d.rangeBytes},
		{base + " range", baseURL + baseMP4, rng, http.StatusPartialContent, d.rangeBytes},
		{"reel unsigned", reelURL + playback.Mount + mp4Key, "", http.StatusForbidden, -1},
	} {
		req, _ := http.NewRequest("GET", c.url, nil)
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if resp.StatusCode != c.status {
			return fmt.Errorf("%s: status %d, want %d: %.200s", c.name, resp.StatusCode, c.status, body)
		}
		if c.size >= 0 && int64(len(body)) != c.size {
			return fmt.Errorf("%s: %d bytes, want %d", c.name, len(body), c.size)
		}
		if c.rng != "" && !bytes.Equal(body, want) {
			return fmt.Errorf("%s: the body is not the requested range of the file", c.name)
		}
	}
	return nil
}

// wrk runs the load generator.
type wrk struct{ bin string }

type wrkResult struct {
	requests, bytes float64
	d               time.Duration
	p50, p99        time.Duration
}

func (r wrkResult) reqPerSec() float64 { return ratio(r.requests, r.d.Seconds()) }

// mbPerSec counts what went over the wire, headers included, as wrk's
// Transfer/sec does; they are a few hundred bytes per response.
func (r wrkResult) mbPerSec() float64 { return ratio(r.bytes, r.d.Seconds()) / (1 << 20) }

// wrkDone is appended to every script: it prints the summary exactly,
// where wrk's own report rounds, and the errors the report leaves out.
const wrkDone = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.bytes, summary.duration, latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, latency:percentile(50)))
end
`

// wrkCore, when set, runs wrk on that core with one thread (the pinned
// modes of the delivery and S3 scenarios).
var wrkCore string

// canPin reports whether a scenario can give its processes cores of their
// own: on two or more cores, with taskset.
func canPin() bool {
	if runtime.NumCPU() < 2 {
		return false
	}
	_, err := exec.LookPath("taskset")
	return err == nil
}

// run loads base with conns connections for d, with script. Any response
// other than 2xx or 3xx and any socket error fail the run: a server
// answering 403 quickly must not look fast. A d of 0 runs nothing.
func (w wrk) run(ctx context.Context, base string, conns int, d time.Duration, script string) (wrkResult, error) {
	if d <= 0 {
		return wrkResult{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	secs := max(int(d/time.Second), 1)
	args := []string{w.bin, "-t", strconv.Itoa(min(2, conns)), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs) + "s", "--timeout", "30s", "-s", script, base}
	if wrkCore != "" {
		args = append([]string{"taskset", "-c", wrkCore}, args...)
		args[5] = "1" // -t 1: one thread for its one core
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s%s", err, stderr.String(), stdout.String())
	}
	var f [10]float64
	found := false
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "BENCH "); ok {
			fields := strings.Fields(rest)
			if len(fields) != len(f) {
				break
			}
			for i, s := range fields {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return wrkResult{}, fmt.Errorf("wrk summary %q: %v", rest, err)
				}
				f[i] = v
			}
			found = true
		}
	}
	if !found {
		return wrkResult{}, fmt.Errorf("no summary from wrk in: %s", stdout.String())
	}
	if f[0] == 0 {
		return wrkResult{}, fmt.Errorf("wrk made no requests: %s", stdout.String())
	}
	if errs := f[4] + f[5] + f[6] + f[7] + f[8]; errs > 0 {
		return wrkResult{}, fmt.Errorf("wrk: %.0f non-2xx/3xx responses, %.0f connect, %.0f read, %.0f write, %.0f timeout errors in %.0f requests",
			f[4], f[5], f[6], f[7], f[8], f[0])
	}
	return wrkResult{requests: f[0], bytes: f[1], d: time.Duration(f[2]) * time.Microsecond, p50: time.Duration(f[9]) * time.Microsecond, p99: time.Duration(f[3]) * time.Microsecond}, nil
}

// wrkThreads gives each wrk thread its number, so that the scripts below
// load both servers with the same sequence of requests.
const wrkThreads = `
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
`

// writeSegmentsScript: whole-file GETs cycling through the segments, each
// thread starting at its own one, as players at different positions do.
func writeSegmentsScript(path string, paths []string) error {
	var b strings.Builder
	b.WriteString("local paths = {\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "  %q,\n", p)
	}
	b.WriteString("}\nlocal i = 0\n")
	b.WriteString(wrkThreads)
	b.WriteString(`
function init(args)
  i = (tid * 7) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
`)
	b.WriteString(wrkDone)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// writeRangesScript: one Range of n bytes at a random offset per request,
// the offsets drawn from a fixed seed per thread.
func writeRangesScript(path, url string, size, n int64) error {
	var b strings.Builder
	fmt.Fprintf(&b, "local path, last, n = %q, %d, %d\n", url, size-n, n)
	b.WriteString(wrkThreads)
	b.WriteString(`
function init(args)
  math.randomseed(tid * 7919)
end

function request()
  local s = math.random(0, last)
  return wrk.format("GET", path, { ["Range"] = "bytes=" .. s .. "-" .. (s + n - 1) })
end
`)
	b.WriteString(wrkDone)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// slowWindow is a slow reader's socket receive buffer.
const slowWindow = 64 << 10

// slowReaders opens d.slowReaders connections that each GET path and then
// read d.slowChunk every d.slowEvery for d.slowFor, all at once, as viewers
// on slow links do. It returns the bytes read after the response heads.
func slowReaders(ctx context.Context, base, path string, d deliveryOptions) (int64, error) {
	addr := strings.TrimPrefix(base, "http://")
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: reel-bench\r\n\r\n"
	var (
		got      atomic.Int64
		errMu    sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		ready    sync.WaitGroup // every reader has sent its request
		start    = make(chan struct{})
		dialing  = make(chan struct{}, 64) // bound the burst of connects
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	ready.Add(d.slowReaders)
	for range d.slowReaders {
		wg.Go(func() {
			dialing <- struct{}{}
			var dl net.Dialer
			conn, err := dl.DialContext(ctx, "tcp", addr)
			if err == nil {
				// A slow link has a small window; left to autotune on loopback,
				// 1,000 receive buffers of megabytes would put the kernel's TCP
				// memory under pressure, and the scenarios after this one with it.
				err = conn.(*net.TCPConn).SetReadBuffer(slowWindow)
			}
			if err == nil {
				_, err = io.WriteString(conn, req)
			}
			<-dialing
			ready.Done()
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close()
			<-start
			end := time.Now().Add(d.slowFor)
			r := bufio.NewReaderSize(conn, d.slowChunk)
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				fail(err)
				return
			}
			// No resp.Body.Close: it would read the rest of the file first.
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Errorf("status %d", resp.StatusCode))
				return
			}
			buf := make([]byte, d.slowChunk)
			for time.Now().Before(end) {
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				n, err := io.ReadFull(resp.Body, buf)
				got.Add(int64(n))
				if err != nil {
					fail(fmt.Errorf("after %d bytes: %w", n, err))
					return
				}
				select {
				case <-time.After(d.slowEvery):
				case <-ctx.Done():
					fail(ctx.Err())
					return
				}
			}
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	if firstErr != nil && !errors.Is(firstErr, context.Canceled) {
		return 0, firstErr
	}
	return got.Load(), ctx.Err()
}

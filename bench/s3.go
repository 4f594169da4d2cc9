package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"

	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3server"
	"github.com/reel-video/reel/internal/playback"
)

// s3Prefix is where reel keeps its objects in the bench's bucket.
const s3Prefix = "reel"

// benchS3 measures reel on an S3-compatible server (versitygw on loopback,
// started here) beside the same server used directly, as a client of the
// bucket would: the delivery loads through reel's proxy against presigned
// GETs of the same objects, and a large upload through tus against the
// SDK's multipart upload of the same file. Reel's peak RSS growth is
// reported for each, on a fresh server, so the figures can be read against
// the objects' sizes.
func benchS3(ctx context.Context, o options, dir string, out io.Writer) error {
	d := o.delivery
	wrkBin, _, err := deliveryTools()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "bucket"), 0o700); err != nil {
		return err
	}
	gw, err := s3server.Start(filepath.Join(dir, "bucket"))
	if err != nil {
		return err
	}
	defer gw.Kill()
	client, err := gw.Client(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "s3: versitygw %s (posix backend) on loopback; reel proxies from it (REEL_MEDIA_DELIVERY=proxy), the baseline reads it with presigned GETs\n", s3server.Version)
	// On two or more cores, the S3 server and the load generator share core
	// 0 in every run, and reel has core 1: the store and its clients get
	// the same CPU whether reel is between them or not, and reel gets a
	// machine of its own, as a node beside a remote store has. Unpinned,
	// three processes on two cores measure how they share the CPU more
	// than what reel's proxy costs.
	var reelPin []string
	if canPin() {
		if err := exec.CommandContext(ctx, "taskset", "-a", "-cp", "0", strconv.Itoa(gw.Pid())).Run(); err != nil {
			return fmt.Errorf("pin versitygw to core 0: %w", err)
		}
		wrkCore, serverPrefix, reelPin = "0", []string{"taskset", "-c", "1"}, []string{"GOMAXPROCS=1"}
		defer func() { wrkCore, serverPrefix = "", nil }()
		fmt.Fprintln(out, "s3: versitygw and wrk pinned to core 0 on both sides, reel to core 1 (GOMAXPROCS=1): a ratio near 1 says reel keeps up with the store on a core of its own; the one-reader and upload clients (in the bench) and the upload's reel are not pinned")
	}

	// The delivery scenario's objects go in through reel's blob store on
	// the bucket, where reel keeps a video's files; the store also makes
	// the baseline's presigned URLs, as for REEL_MEDIA_DELIVERY=redirect.
	loc, err := blob.ParseURL(gw.URL(s3Prefix), "")
	if err != nil {
		return err
	}
	store, err := blob.Open(ctx, loc, gw.Getenv(nil))
	if err != nil {
		return err
	}
	presigner, ok := store.(blob.Presigner)
	if !ok {
		return fmt.Errorf("the S3 store makes no presigned URLs")
	}
	const hlsDir, mp4Key = "videos/1/hls/", "videos/1/play.mp4"
	var segKeys []string
	for i := range d.segments {
		key := fmt.Sprintf("%s720p/seg_%03d.m4s", hlsDir, i+1)
		if err := putRandom(ctx, store, key, int64(d.segmentBytes), uint64(i)); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		segKeys = append(segKeys, key)
	}
	if err := putRandom(ctx, store, mp4Key, d.mp4Bytes, 1000); err != nil {
		return fmt.Errorf("put %s: %w", mp4Key, err)
	}

	// The same objects on both sides: signed reel URLs under /media/, and
	// presigned URLs of the private bucket that outlive the run.
	presigned := func(key string) (string, error) {
		raw, err := presigner.GetURL(ctx, key, 12*time.Hour)
		if err != nil {
			return "", err
		}
		u, err := url.Parse(raw)
		if err != nil {
			return "", err
		}
		return u.RequestURI(), nil
	}
	signer := playback.NewSigner([]byte(benchSecret), nil, time.Hour)
	var reelSegs, s3Segs []string
	for _, key := range segKeys {
		reelSegs = append(reelSegs, signer.SignPath(playback.Mount+key, playback.WithPrefix(playback.Mount+hlsDir)))
		p, err := presigned(key)
		if err != nil {
			return err
		}
		s3Segs = append(s3Segs, p)
	}
	reelMP4 := signer.SignPath(playback.Mount + mp4Key)
	s3MP4, err := presigned(mp4Key)
	if err != nil {
		return err
	}
	script := func(kind, side string) string { return filepath.Join(dir, "s3-"+kind+"-"+side+".lua") }
	if err := writeSegmentsScript(script("segments", "reel"), reelSegs); err != nil {
		return err
	}
	if err := writeSegmentsScript(script("segments", "s3"), s3Segs); err != nil {
		return err
	}
	if err := writeRangesScript(script("ranges", "reel"), reelMP4, d.mp4Bytes, d.rangeBytes); err != nil {
		return err
	}
	if err := writeRangesScript(script("ranges", "s3"), s3MP4, d.mp4Bytes, d.rangeBytes); err != nil {
		return err
	}

	reelEnv := append([]string{"REEL_WORKERS=0", "REEL_SECRET=" + benchSecret, "REEL_BLOB_URL=" + gw.URL(s3Prefix),
		"REEL_MEDIA_DELIVERY=proxy", "REEL_MAX_UPLOAD_BYTES=" + strconv.FormatInt(o.uploadBytes+1<<20, 10)}, gw.Env()...)
	// Each load gets a fresh reel, whose RSS growth over its idle state is
	// then that load's alone.
	fresh := func(name string, load func(srv *server) error) error {
		env := reelEnv
		if serverPrefix != nil {
			env = append(slices.Clone(reelEnv), reelPin...)
		}
		srv, err := startServer(o.bin, filepath.Join(dir, name), env...)
		if err != nil {
			return err
		}
		defer srv.stop()
		rss, err := srv.peakRSS(func() error { return load(srv) })
		if err != nil {
			return err
		}
		row(out, "s3 "+name+": reel peak RSS growth", fmt.Sprintf("%.1f MiB", rss), "-", 0)
		return nil
	}
	sides := func(srv *server) []loadSide { return []loadSide{{"reel", srv.url}, {"s3", gw.Endpoint}} }
	segName := fmt.Sprintf("proxy hls %s segments", size(int64(d.segmentBytes)))
	err = fresh(segName, func(srv *server) error {
		if err := checkDelivery(ctx, store, mp4Key, srv.url, "s3", gw.Endpoint, reelSegs[0], s3Segs[0], reelMP4, s3MP4, d); err != nil {
			return err
		}
		return compareLoads(ctx, out, o, wrkBin, sides(srv), script, "s3 "+segName, "segments", d.segConns)
	})
	if err != nil {
		return err
	}
	rangeName := fmt.Sprintf("proxy mp4 %s ranges", size(d.rangeBytes))
	err = fresh(rangeName, func(srv *server) error {
		return compareLoads(ctx, out, o, wrkBin, sides(srv), script, "s3 "+rangeName, "ranges", d.rangeConns)
	})
	if err != nil {
		return err
	}
	// One viewer reading the whole MP4: memory must not follow its size.
	wholeName := fmt.Sprintf("proxy whole %s MP4", size(d.mp4Bytes))
	// Read again until 1 GiB has gone, so that the CPU times (counted in
	// 10 ms ticks) are seconds long.
	reads := max(1, int((1<<30)/d.mp4Bytes))
	err = fresh(wholeName, func(srv *server) error {
		// What the proxy costs in CPU, beside what the store spends serving
		// the same bytes directly: the figure the pinned loads above do not
		// show when reel keeps up.
		getAll := func(u string, took *time.Duration) func() error {
			return func() error {
				for range reads {
					t, err := timeGet(u, d.mp4Bytes)
					if err != nil {
						return err
					}
					*took += t
				}
				return nil
			}
		}
		var reelTime, s3Time time.Duration
		reelCPU, err := cpuDuring(srv.cmd.Process.Pid, getAll(srv.url+reelMP4, &reelTime))
		if err != nil {
			return fmt.Errorf("reel: %w", err)
		}
		s3CPU, err := cpuDuring(gw.Pid(), getAll(gw.Endpoint+s3MP4, &s3Time))
		if err != nil {
			return fmt.Errorf("s3: %w", err)
		}
		sent := int64(reads) * d.mp4Bytes
		r, b := mbps(sent, reelTime), mbps(sent, s3Time)
		row(out, "s3 "+wholeName+", 1 conn: MB/s", fmt.Sprintf("%.0f", r), fmt.Sprintf("%.0f s3", b), r/b)
		gib := float64(sent) / (1 << 30)
		row(out, "s3 "+wholeName+": CPU s per GiB sent", fmt.Sprintf("%.2f reel", reelCPU/gib), fmt.Sprintf("%.2f versitygw", s3CPU/gib), 0)
		return nil
	})
	if err != nil {
		return err
	}
	// The upload's reel is not pinned: its client and the SDK's are the
	// bench itself, which no core is kept for.
	serverPrefix = nil
	return benchS3Upload(ctx, o, dir, out, gw, transfermanager.New(client), reelEnv, fresh)
}

// benchS3Upload: a large file through reel's tus endpoint onto S3, beside
// the SDK's transfer manager putting the same file into the same bucket
// (multipart, its default part size and concurrency).
func benchS3Upload(ctx context.Context, o options, dir string, out io.Writer, gw *s3server.Server, tm *transfermanager.Client,
	reelEnv []string, fresh func(string, func(*server) error) error) error {
	src := filepath.Join(dir, "big.mp4")
	if err := makeBigVideo(src, o.uploadBytes); err != nil {
		return err
	}
	defer os.Remove(src)
	sdkUpload := func() (time.Duration, error) {
		f, err := os.Open(src)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		start := time.Now()
		_, err = tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(gw.Bucket), Key: aws.String("direct/big.mp4"), Body: f})
		return time.Since(start), err
	}
	name := fmt.Sprintf("upload tus %s", size(o.uploadBytes))
	return fresh(name, func(srv *server) error {
		// Alternating which goes first, best of o.rounds each, as the
		// delivery loads do.
		var reelBest, sdkBest time.Duration
		for round := range o.rounds {
			for k := range 2 {
				if (k+round)%2 == 0 {
					start := time.Now()
					if err := uploadTus(srv, src, o.uploadBytes); err != nil {
						return fmt.Errorf("tus: %w", err)
					}
					if e := time.Since(start); reelBest == 0 || e < reelBest {
						reelBest = e
					}
					continue
				}
				e, err := sdkUpload()
				if err != nil {
					return fmt.Errorf("sdk: %w", err)
				}
				if sdkBest == 0 || e < sdkBest {
					sdkBest = e
				}
			}
		}
		label := "s3 " + name + " MB/s"
		if o.rounds > 1 {
			label = fmt.Sprintf("s3 %s, best of %d: MB/s", name, o.rounds)
		}
		r, b := mbps(o.uploadBytes, reelBest), mbps(o.uploadBytes, sdkBest)
		row(out, label, fmt.Sprintf("%.0f", r), fmt.Sprintf("%.0f sdk", b), r/b)
		return nil
	})
}

// timeGet reads the whole object at u and checks its length.
func timeGet(u string, want int64) (time.Duration, error) {
	start := time.Now()
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, err
	}
	if n != want {
		return 0, fmt.Errorf("%d bytes, want %d", n, want)
	}
	return time.Since(start), nil
}

// Command bench measures reel beside baselines on this machine, in one run,
// and prints one line per scenario: reel's figure, the baseline's, and
// their ratio. make bench runs it in full; its test runs it in a tiny smoke
// mode so that it cannot rot. Timings are never asserted, only reported.
//
// Scenarios:
//   - upload: a large file through multipart and through tus on loopback,
//     beside a plain copy of the same file to the same disk; with the
//     server's peak RSS growth while it streams.
//   - ladder: a generated 1080p 10 s clip through reel's pipeline, beside
//     the same ffmpeg ladder command run by hand.
//   - media: the same clip's one-pass ladder beside the per-rendition
//     approach of PeerTube and MediaCMS (one ffmpeg per rung, each decoding
//     the source again), run one after the other and two at a time; each
//     rung's bytes and its SSIM and PSNR against the source; and, on a
//     running reel, the time from the upload's end of a 60 s 1080p HEVC clip
//     to its first HLS segment served and decodable, and of an H.264 clip to
//     a playable URL, beside their targets.
//   - delivery: signed media URLs loaded with wrk beside nginx serving the
//     same files from the same disk: whole 4 s HLS segments at 64 and 256
//     connections, random 1 MiB ranges of a 200 MiB MP4; and 1,000 slow
//     readers of one MP4 at once, with the servers' peak RSS growth.
//   - s3: reel on an S3-compatible server (versitygw, started by the bench)
//     beside the same server used directly: whole HLS segments and random
//     1 MiB ranges of the MP4 through reel's proxy against presigned GETs
//     of the same objects, one reader of the whole MP4, and a large tus
//     upload against the AWS SDK's multipart upload of the same file; with
//     reel's peak RSS growth for each.
//   - api: the JSON API loaded with wrk at 64 and 256 connections, each
//     scenario beside GET /healthz (a trivial JSON handler) on the same
//     server: the feed's first page anonymously and with a viewer, a video
//     card, and a like/unlike mix that must end with no error and every
//     like count equal to its likes.
//   - web: the web app's JavaScript, gzipped, against its budget, and the
//     time from navigation to the first video's playing event in Chromium
//     on loopback (web/test/firstplay.mjs), against its target.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/reel-video/reel/internal/blob/s3server"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options of one benchmark run.
type options struct {
	bin         string // the reel binary
	uploadBytes int64
	clipSize    string // WIDTHxHEIGHT of the ladder's source
	clipSeconds int
	rounds      int    // ladder runs of each side; the best is kept
	playSize    string // WIDTHxHEIGHT of the first-play clips
	playSeconds int
	delivery    deliveryOptions
	api         apiOptions
	scenarios   []string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := options{}
	fs.StringVar(&o.bin, "bin", "bin/reel", "the reel binary to measure")
	smoke := fs.Bool("smoke", false, "tiny sizes: checks that every scenario runs, measures nothing worth reading")
	only := fs.String("only", "upload,ladder,media,delivery,s3,api,web", "comma-separated scenarios to run")
	apiFor := fs.Duration("api-for", 0, "the length of each API wrk run (0: the mode's), for a quicker look while working")
	apiConns := fs.Int("api-conns", 0, "run the API scenarios at this one connection count only (0: the mode's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.uploadBytes, o.clipSize, o.clipSeconds, o.rounds = 1<<30, "1920x1080", 10, 2
	o.playSize, o.playSeconds = "1920x1080", 60
	o.delivery, o.api = fullDelivery(), fullAPI()
	if *smoke {
		o.uploadBytes, o.clipSize, o.clipSeconds, o.rounds = 16<<20, "640x360", 2, 1
		o.playSize, o.playSeconds = "320x240", 2
		o.delivery, o.api = smokeDelivery(), smokeAPI()
	}
	if *apiFor > 0 {
		o.api.wrkFor = *apiFor
	}
	if *apiConns > 0 {
		o.api.conns = []int{*apiConns}
	}
	o.scenarios = strings.Split(*only, ",")
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("no reel binary at %s: run make build first", o.bin)
	}
	// Every tool is looked for before anything runs, so that a missing one
	// fails at once rather than minutes in.
	for _, s := range o.scenarios {
		switch s {
		case "upload", "ladder":
			for _, tool := range []string{"ffmpeg", "ffprobe"} {
				if _, err := exec.LookPath(tool); err != nil {
					return fmt.Errorf("%s is missing: apt-get install -y ffmpeg", tool)
				}
			}
		case "media":
			if err := mediaTools(); err != nil {
				return err
			}
		case "delivery":
			if _, _, err := deliveryTools(); err != nil {
				return err
			}
		case "api":
			if _, err := exec.LookPath("wrk"); err != nil {
				return fmt.Errorf("wrk is missing: apt-get install -y wrk")
			}
			if _, err := exec.LookPath("redis-server"); err != nil {
				return fmt.Errorf("redis-server is missing: apt-get install -y redis-server")
			}
		case "s3":
			if _, _, err := deliveryTools(); err != nil {
				return err
			}
			if _, err := exec.LookPath("ffmpeg"); err != nil {
				return fmt.Errorf("ffmpeg is missing: apt-get install -y ffmpeg")
			}
			if _, err := s3server.Binary(); err != nil {
				return err
			}
		case "web":
			if _, err := webTools(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown scenario %q", s)
		}
	}
	work, err := os.MkdirTemp("", "reel-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Fprintf(out, "%-48s %14s %14s %8s\n", "scenario", "reel", "baseline", "ratio")
	for _, s := range o.scenarios {
		var err error
		switch s {
		case "upload":
			err = benchUploads(ctx, o, filepath.Join(work, "upload"), out)
		case "ladder":
			err = benchLadder(ctx, o, filepath.Join(work, "ladder"), out)
		case "media":
			err = benchMedia(ctx, o, filepath.Join(work, "media"), out)
		case "delivery":
			err = benchDelivery(ctx, o, filepath.Join(work, "delivery"), out)
		case "s3":
			err = benchS3(ctx, o, filepath.Join(work, "s3"), out)
		case "api":
			err = benchAPI(ctx, o, filepath.Join(work, "api"), out)
		case "web":
			err = benchWeb(ctx, o, filepath.Join(work, "web"), out)
		default:
			err = fmt.Errorf("unknown scenario %q", s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// row prints one result line: reel's figure, the baseline's, and the ratio
// reel/baseline (a ratio of 0 means there is no baseline to compare with).
func row(out io.Writer, name, reel, base string, ratio float64) {
	r := "-"
	if ratio > 0 {
		r = fmt.Sprintf("%.2fx", ratio)
	}
	fmt.Fprintf(out, "%-48s %14s %14s %8s\n", name, reel, base, r)
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / (1 << 20) }

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serverPrefix runs the servers a scenario starts under a command (taskset
// when the delivery scenario pins them to a core); empty runs them plainly.
var serverPrefix []string

// server is a reel process started for a scenario.
type server struct {
	cmd   *exec.Cmd
	url   string
	token string
	log   *os.File
}

func startServer(bin, dataDir string, env ...string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dataDir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	if len(serverPrefix) > 0 {
		cmd = exec.Command(serverPrefix[0], append(serverPrefix[1:], bin, "serve")...)
	}
	cmd.Env = append(os.Environ(), append([]string{"REEL_ADDR=" + addr, "REEL_ADMIN_ADDR=off",
		"REEL_DATA_DIR=" + dataDir, "REEL_LOG_FORMAT=json"}, env...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://" + addr, log: log}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("reel did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	body, _ := json.Marshal(map[string]string{"username": "bench", "password": "bench-password"})
	resp, err := http.Post(s.url+"/api/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		s.stop()
		return nil, err
	}
	defer resp.Body.Close()
	var reg struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || reg.Token == "" {
		s.stop()
		return nil, fmt.Errorf("register: %d %v", resp.StatusCode, err)
	}
	s.token = reg.Token
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.log.Close()
}

// rssKiB reads the process's resident set size.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// cpuSeconds reads the CPU time (user and system) the process has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command (which may hold spaces) in parentheses:
	// utime and stime are the 12th and 13th, in clock ticks.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
	}
	return float64(utime+stime) / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// cpuDuring returns the CPU seconds process pid used while fn ran.
func cpuDuring(pid int, fn func() error) (float64, error) {
	before, err := cpuSeconds(pid)
	if err != nil {
		return 0, err
	}
	if err := fn(); err != nil {
		return 0, err
	}
	after, err := cpuSeconds(pid)
	return after - before, err
}

// peakRSS samples the server's RSS every 10 ms while fn runs and returns
// the largest growth over the RSS just before, in MiB.
func (s *server) peakRSS(fn func() error) (float64, error) {
	return peakRSS([]int{s.cmd.Process.Pid}, fn)
}

// peakRSS samples the summed RSS of the processes pids every 10 ms while fn
// runs and returns the largest growth over the sum just before, in MiB.
func peakRSS(pids []int, fn func() error) (float64, error) {
	sum := func() int64 {
		var n int64
		for _, pid := range pids {
			n += rssKiB(pid)
		}
		return n
	}
	base := sum()
	var peak int64
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if r := sum(); r > 0 {
				mu.Lock()
				peak = max(peak, r)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	err := fn()
	close(stop)
	wg.Wait()
	return float64(max(peak-base, 0)) / 1024, err
}

// logLine returns the fields of the last log line with the given message.
func (s *server) logLine(msg string) map[string]any {
	f, err := os.Open(s.log.Name())
	if err != nil {
		return nil
	}
	defer f.Close()
	var last map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			last = m
		}
	}
	return last
}

// video reads a video's status.
func (s *server) video(id int64) (status, reason string, err error) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/videos/%d", s.url, id), nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var v struct{ Status, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", "", err
	}
	return v.Status, v.Error, nil
}

func drain(r io.Reader) { io.Copy(io.Discard, r) }

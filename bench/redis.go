package main

import (
	"fmt"
	"os/exec"

	"github.com/reel-video/reel/internal/shared/redisserver"
)

// startRedis starts a redis-server on loopback with no persistence, its
// files in dir: the API scenarios' shared state.
func startRedis(dir string) (*redisserver.Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is missing: apt-get install -y redis-server")
	}
	addr, err := redisserver.FreeAddr()
	if err != nil {
		return nil, err
	}
	return redisserver.Start(bin, dir, addr)
}

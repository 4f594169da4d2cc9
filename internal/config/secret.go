package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MinSecretLen is the shortest REEL_SECRET accepted: 32 bytes is the HMAC-SHA256 key size.
const MinSecretLen = 32

// LoadSecret returns the server secret: REEL_SECRET when set, otherwise the
// contents of $REEL_DATA_DIR/secret, generated (32 random bytes, hex) with mode
// 0600 on first start. A secret file that others can read is refused, as ssh
// refuses such a key: anyone who reads it can mint tokens.
func (c *Config) LoadSecret() ([]byte, error) {
	if c.Secret != "" {
		return []byte(c.Secret), nil
	}
	path := filepath.Join(c.DataDir, "secret")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return generateSecret(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s is readable by others (mode %v): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < MinSecretLen {
		return nil, fmt.Errorf("secret file %s holds fewer than %d bytes: remove it to generate a new one (this signs everyone out)", path, MinSecretLen)
	}
	return []byte(s), nil
}

// generateSecret writes the new secret to a temporary file and links it into
// place: a link fails when the name exists, so two processes starting together
// on one data directory agree on one secret, and neither can read a half-written file.
func generateSecret(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw)
	tmp, err := os.CreateTemp(dir, ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(s + "\n")
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return (&Config{DataDir: dir}).LoadSecret()
	} else if err != nil {
		return nil, fmt.Errorf("create secret: %w", err)
	}
	return []byte(s), nil
}

package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// KeyPrefix starts every API key, as OpenAI's do, so secret scanners and
// humans recognise them.
const KeyPrefix = "sk-"

// newSecretKey returns sk- followed by 256 random bits (base64url, 43 chars).
func newSecretKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// OpenIDPrefix starts the openids NewOpenID generates.
const OpenIDPrefix = "oid-"

// NewOpenID returns an unguessable account id: in auth mode openid the id in
// /llm_api/{openid}/... is the credential, so it carries 128 random bits
// (base64url, safe in a URL path).
func NewOpenID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate openid: %w", err)
	}
	return OpenIDPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// newID returns prefix followed by 12 random hex digits.
func newID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b)
}

// HashKey is the stored form of a key: hex SHA-256. A slow password hash is
// unnecessary because keys carry 256 random bits.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// keyHint is what listings show of a key: its first 7 characters.
func keyHint(key string) string {
	if len(key) <= 7 {
		return key
	}
	return key[:7] + "…"
}

// AdminKey checks presented admin keys against the configured one.
type AdminKey struct {
	hash [sha256.Size]byte
	set  bool
}

// NewAdminKey takes the configured admin key, either in clear or as
// "sha256:<hex>" so config files need not hold the secret. An empty string
// disables admin access.
func NewAdminKey(configured string) (AdminKey, error) {
	if configured == "" {
		return AdminKey{}, nil
	}
	var a AdminKey
	if h, ok := strings.CutPrefix(configured, "sha256:"); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return AdminKey{}, fmt.Errorf("admin key: sha256: wants %d hex bytes", sha256.Size)
		}
		copy(a.hash[:], b)
	} else {
		a.hash = sha256.Sum256([]byte(configured))
	}
	a.set = true
	return a, nil
}

// Enabled reports whether an admin key is configured.
func (a AdminKey) Enabled() bool { return a.set }

// Matches compares hashes in constant time, so the comparison leaks neither
// the key nor how much of it matched.
func (a AdminKey) Matches(presented string) bool {
	if !a.set || presented == "" {
		return false
	}
	h := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(h[:], a.hash[:]) == 1
}

package builtin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrUnknownKey means a secret was sealed with a key that is no longer configured.
var ErrUnknownKey = errors.New("secret sealed with an unknown encryption key")

// Keyring seals factor secrets with AES-256-GCM. The record's id is the associated data,
// so a sealed seed copied onto another factor does not open. Each key has an id derived
// from the key itself; records keep the id, so after a rotation old records still open
// with a previous key while new ones are sealed with the current one.
type Keyring struct {
	currentID string
	aeads     map[string]cipher.AEAD
	fpKey     []byte // FingerprintKey
}

// NewKeyring builds a keyring from the current key and any previous keys (32 bytes each).
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, previous...) {
		if len(key) != 32 {
			return nil, fmt.Errorf("keyring: key %d is %d bytes, want 32", i, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		id := KeyID(key)
		if i == 0 {
			k.currentID = id
			// HKDF with a label of its own: the sealing key is never used as it is for
			// another purpose.
			if k.fpKey, err = hkdf.Key(sha256.New, key, nil, "emfa idempotency fingerprint", 32); err != nil {
				return nil, fmt.Errorf("keyring: %w", err)
			}
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// KeyID names a key without revealing it: the first 8 bytes of a domain-separated hash.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("emfa key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// FingerprintKey is the key of the idempotency records' fingerprints
// (provider.FingerprintKey), derived from the current key: the same on every replica that
// shares storage.encryptionKey, and changed by a rotation.
func (k *Keyring) FingerprintKey() []byte { return k.fpKey }

// CurrentID is the id of the key new secrets are sealed with.
func (k *Keyring) CurrentID() string { return k.currentID }

// Has reports whether the keyring holds the key with id (one Open can use).
func (k *Keyring) Has(id string) bool {
	_, ok := k.aeads[id]
	return ok
}

// Seal encrypts plaintext bound to aad and returns nonce||ciphertext and the key id.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, string, error) {
	aead := k.aeads[k.currentID]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("keyring: nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, aad), k.currentID, nil
}

// Open decrypts a sealed secret; it fails if the secret or aad was altered.
func (k *Keyring) Open(sealed []byte, keyID string, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("keyring: key %s: %w", keyID, ErrUnknownKey)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("keyring: sealed secret too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("keyring: open with key %s: %w", keyID, err)
	}
	return plain, nil
}

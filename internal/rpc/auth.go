package rpc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/shoal-dev/shoal/internal/errs"
)

// TokenEnv and TokenFileEnv are the environment variables a process reads
// its cluster token (or the file holding it) from.
const (
	TokenEnv     = "SHOAL_TOKEN"
	TokenFileEnv = "SHOAL_TOKEN_FILE"
	authKey      = "authorization"
	bearer       = "Bearer "
)

// NewToken returns a fresh random cluster token.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MinTokenLength is the shortest cluster token a head accepts from its
// operator (a generated one is 64 hex characters).
const MinTokenLength = 16

// CheckTokenStrength refuses a user-supplied cluster token too short to
// resist guessing, saying how to make a good one; source names where it
// came from ("--token", "$SHOAL_TOKEN").
func CheckTokenStrength(token, source string) error {
	if len(token) < MinTokenLength {
		return fmt.Errorf("the cluster token from %s has %d characters; it needs at least %d: make one with `openssl rand -hex 32`, or give none and the head makes a random one",
			source, len(token), MinTokenLength)
	}
	return nil
}

// DefaultTokenFile is where `shoal head` writes the token and where nodes,
// drivers and the CLI look for it when told nothing else.
func DefaultTokenFile() string {
	if f := os.Getenv(TokenFileEnv); f != "" {
		return f
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = os.TempDir()
	}
	return filepath.Join(home, ".shoal", "token")
}

// WriteTokenFile writes token to path, readable only by its owner.
func WriteTokenFile(path, token string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the token file's directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing token file %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("restricting token file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing token file %s: %w", path, err)
	}
	return nil
}

// ResolveToken picks the token a process presents: an explicit value, else
// $SHOAL_TOKEN, else the contents of file (or the default token file).
func ResolveToken(explicit, file string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if t := os.Getenv(TokenEnv); t != "" {
		return t, nil
	}
	if file == "" {
		file = DefaultTokenFile()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%w: no token given and no token file at %s: pass --token, set %s, or point --token-file/%s at the file `shoal head` printed",
				errs.ErrUnauthenticated, file, TokenEnv, TokenFileEnv)
		}
		return "", fmt.Errorf("reading token file %s: %w", file, err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("%w: token file %s is empty", errs.ErrUnauthenticated, file)
	}
	return t, nil
}

// tokenCreds attaches the token to every call.
type tokenCreds struct {
	token  string
	secure bool
}

func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authKey: bearer + c.token}, nil
}

func (c tokenCreds) RequireTransportSecurity() bool { return c.secure }

// checkToken verifies the token in an incoming call's metadata.
func checkToken(ctx context.Context, want string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	return checkTokenMD(md, want)
}

// checkTokenMD verifies the token in a call's header metadata.
func checkTokenMD(md metadata.MD, want string) error {
	vals := md.Get(authKey)
	if len(vals) == 0 || !strings.HasPrefix(vals[0], bearer) {
		return errs.ToStatus(fmt.Errorf("%w: no cluster token presented; pass the token `shoal head` wrote (--token, %s or --token-file)", errs.ErrUnauthenticated, TokenEnv))
	}
	got := strings.TrimPrefix(vals[0], bearer)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errs.ToStatus(fmt.Errorf("%w: the cluster token presented is wrong; use the token of the head you are joining", errs.ErrUnauthenticated))
	}
	return nil
}

// AuthServerOptions returns interceptors that refuse every call without the
// cluster token.
func AuthServerOptions(token string) []grpc.ServerOption {
	return []grpc.ServerOption{
		// The token is checked on the stream's headers, before a byte of
		// its body is read (the interceptors below run only after gRPC
		// read and decoded a whole request: 16 unauthenticated 60 MiB
		// calls took a head from 128 MB to 3 GB). The interceptors stay,
		// for in-process servers that skip the transport.
		grpc.InTapHandle(func(ctx context.Context, info *tap.Info) (context.Context, error) {
			if err := checkTokenMD(info.Header, token); err != nil {
				return ctx, err
			}
			return ctx, nil
		}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := checkToken(ctx, token); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := checkToken(ss.Context(), token); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}

// CheckToken compares a presented token with the cluster's in constant time;
// the data plane uses it for its handshake.
func CheckToken(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

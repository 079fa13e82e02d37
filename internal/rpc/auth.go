package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/shoal-dev/shoal/internal/credential"
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
	if credential.LooksLikeJob(token) {
		return fmt.Errorf("the cluster token from %s begins with %q, as a job's credential does (a job's processes get one in $%s): give the cluster's own token, or none and the head makes a random one",
			source, "job.", TokenEnv)
	}
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

// authenticate verifies the token in a call's header metadata and returns
// whom it speaks for.
func authenticate(md metadata.MD, token string) (credential.Principal, error) {
	vals := md.Get(authKey)
	if len(vals) == 0 || !strings.HasPrefix(vals[0], bearer) {
		return credential.Principal{}, fmt.Errorf("%w: no cluster token presented; pass the token `shoal head` wrote (--token, %s or --token-file)", errs.ErrUnauthenticated, TokenEnv)
	}
	return credential.Verify(token, strings.TrimPrefix(vals[0], bearer))
}

// admit authenticates a call of method and authorizes it by access; the
// returned context carries the caller's principal for the handler. A
// context that already carries one (the tap handle admitted the call) is
// returned as it is.
func admit(ctx context.Context, md metadata.MD, token string, access map[string]Access, method string) (context.Context, error) {
	if _, ok := ctx.Value(admittedKey{}).(bool); ok {
		return ctx, nil
	}
	p, err := authenticate(md, token)
	if err == nil {
		err = Authorize(access, method, p)
	}
	if err != nil {
		return ctx, errs.ToStatus(err)
	}
	return context.WithValue(credential.NewContext(ctx, p), admittedKey{}, true), nil
}

// admittedKey marks a context whose call was admitted.
type admittedKey struct{}

// AuthServerOptions returns interceptors that refuse every call without
// the cluster token or a valid job credential, and a job credential's
// calls that access does not allow (nil: none); a handler finds the
// caller's principal with credential.FromContext.
func AuthServerOptions(token string, access map[string]Access) []grpc.ServerOption {
	incoming := func(ctx context.Context) metadata.MD {
		md, _ := metadata.FromIncomingContext(ctx)
		return md
	}
	return []grpc.ServerOption{
		// The token is checked on the stream's headers, before a byte of
		// its body is read (the interceptors below run only after gRPC
		// read and decoded a whole request: 16 unauthenticated 60 MiB
		// calls took a head from 128 MB to 3 GB). The interceptors stay,
		// for in-process servers that skip the transport.
		grpc.InTapHandle(func(ctx context.Context, info *tap.Info) (context.Context, error) {
			return admit(ctx, info.Header, token, access, info.FullMethodName)
		}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ctx, err := admit(ctx, incoming(ctx), token, access, info.FullMethod)
			if err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			ctx, err := admit(ss.Context(), incoming(ss.Context()), token, access, info.FullMethod)
			if err != nil {
				return err
			}
			if ctx != ss.Context() {
				ss = admittedStream{ss, ctx}
			}
			return h(srv, ss)
		}),
	}
}

// admittedStream is a stream whose context carries its caller's principal.
type admittedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s admittedStream) Context() context.Context { return s.ctx }

package shoal

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/runtimeenv"
)

// shipRuntimeEnv packs spec (this program's binary when it names none) and
// uploads it to the head, returning the package's address.
func shipRuntimeEnv(ctx context.Context, conn *grpc.ClientConn, spec runtimeenv.Spec, logger *slog.Logger) (string, error) {
	if spec.Binary == "" {
		bin, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("finding this program's binary for the runtime environment: %w", err)
		}
		spec.Binary = bin
	}
	cacheDir := ""
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = dir + "/shoal/packages"
	}
	pkg, err := runtimeenv.Pack(ctx, spec, runtimeenv.PackOptions{CacheDir: cacheDir,
		Warn: func(msg string) { logger.Warn(msg) }})
	if err != nil {
		return "", fmt.Errorf("packing the runtime environment: %w", err)
	}
	defer pkg.Remove()
	if _, err := runtimeenv.Upload(ctx, conn, pkg, nil); err != nil {
		return "", fmt.Errorf("uploading the runtime environment: %w", err)
	}
	return pkg.Hash, nil
}

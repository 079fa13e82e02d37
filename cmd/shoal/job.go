package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/runtimeenv"
)

func newJobCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Submit a job (its binary and files) to a cluster, and follow it",
		Long: `Submit a job (its binary and files) to a cluster, and follow it.

The commands that take a JOB_ID take it as ` + "`shoal job list`" + ` shows it, whole,
or any unique prefix of it.`,
	}
	cmd.AddCommand(newJobSubmitCommand(), newJobStatusCommand(), newJobLogsCommand(), newJobStopCommand(), newJobListCommand())
	return cmd
}

func newJobSubmitCommand() *cobra.Command {
	var (
		hf                     headFlags
		workDir, name          string
		limit                  = 2 * bytesize.GiB
		excludes, envs, extras []string
		noWait                 bool
	)
	cmd := &cobra.Command{
		Use:   "submit [flags] -- BINARY [ARGS...]",
		Short: "Ship a job's binary and files to the cluster and run its driver there",
		Long: `Pack BINARY, the working directory (--working-dir, with .gitignore honoured
and --exclude patterns) and --env variables into a content-addressed package,
upload it to the head (nothing is sent when the head already has it), and run
the driver on a node chosen by the head, from the package, with the packaged
working directory as its current directory. The job's executors start from the
same package on every node. The command streams the driver's output and exits
with its exit code (unless --no-wait).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			if limit <= 0 {
				return fmt.Errorf("--package-limit must be > 0, got %s", bytesize.String(limit))
			}
			spec := runtimeenv.Spec{Binary: args[0], WorkingDir: workDir, Excludes: excludes, Env: envs}
			for _, e := range extras {
				dest, src, ok := strings.Cut(e, "=")
				if !ok {
					return fmt.Errorf("--extra-file %q: want DEST=SRC", e)
				}
				if spec.ExtraFiles == nil {
					spec.ExtraFiles = map[string]string{}
				}
				spec.ExtraFiles[dest] = src
			}
			cacheDir := ""
			if dir, err := os.UserCacheDir(); err == nil {
				cacheDir = filepath.Join(dir, "shoal", "packages")
			}
			start := time.Now()
			pkg, err := runtimeenv.Pack(ctx, spec, runtimeenv.PackOptions{Limit: limit, CacheDir: cacheDir,
				Warn: func(msg string) { fmt.Fprintln(os.Stderr, "warning:", msg) }})
			if err != nil {
				return err
			}
			defer pkg.Remove()
			conn, err := hf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			bar := newCLIBar(ctx, os.Stderr, "uploading", pkg.Size, true)
			var progress func(sent, total int64)
			if bar != nil {
				progress = func(sent, _ int64) { bar.set(sent) }
			}
			up, err := runtimeenv.Upload(ctx, conn, pkg, progress)
			bar.finish(err == nil && !up.Skipped)
			if err != nil {
				return err
			}
			switch {
			case up.Skipped:
				fmt.Fprintf(os.Stderr, "package %s (%s) unchanged: nothing uploaded (%.0f ms)\n", pkg.Hash[:12], bytesize.Format(pkg.Size), float64(time.Since(start).Microseconds())/1000)
			default:
				fmt.Fprintf(os.Stderr, "\rpackage %s: uploaded %s in %.1fs\n", pkg.Hash[:12], bytesize.Format(up.BytesSent), time.Since(start).Seconds())
			}
			if name == "" {
				name = filepath.Base(args[0])
			}
			job, err := pb.NewHeadClient(conn).SubmitJob(ctx, &pb.SubmitJobRequest{Name: name, PackageHash: pkg.Hash, Args: args[1:], Env: envs})
			if err != nil {
				return errs.FromStatus(err)
			}
			id, _ := ids.FromBytes("job id", job.JobId)
			fmt.Fprintf(os.Stderr, "job %s (%s) submitted\n", id.Abbrev(), name)
			if noWait {
				fmt.Println(id)
				return nil
			}
			if err := followLogs(ctx, conn, job.JobId, 0, os.Stdout); err != nil {
				return err
			}
			job, err = pb.NewHeadClient(conn).GetJob(context.WithoutCancel(ctx), &pb.GetJobRequest{JobId: job.JobId})
			if err != nil {
				return errs.FromStatus(err)
			}
			if job.State != pb.JobState_JOB_STATE_SUCCEEDED {
				msg := fmt.Sprintf("job %s %s (exit code %d)", id.Abbrev(), stateName(job.State), job.ExitCode)
				if job.Error != "" {
					msg += ": " + job.Error
				}
				return errors.New(msg)
			}
			return nil
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&workDir, "working-dir", "", "directory shipped with the job (the driver's current directory on the node)")
	cmd.Flags().StringArrayVar(&excludes, "exclude", nil, "gitignore-style pattern to leave out of the working directory (repeatable)")
	cmd.Flags().StringArrayVar(&envs, "env", nil, "environment variable K=V for the driver and executors (repeatable)")
	cmd.Flags().StringArrayVar(&extras, "extra-file", nil, "extra file DEST=SRC to ship (repeatable)")
	cmd.Flags().Var(bytesize.Flag(&limit), "package-limit", "largest package to ship (content size)")
	cmd.Flags().StringVar(&name, "name", "", "job name (default: the binary's name)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "print the job ID and return instead of following the job")
	return cmd
}

// uploadProgress prints upload progress on a terminal.

func stateName(s pb.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

// followLogs copies a job's output to w from line from until the job ends.
func followLogs(ctx context.Context, conn *grpc.ClientConn, job []byte, from int64, w io.Writer) error {
	stream, err := pb.NewHeadClient(conn).JobLogs(ctx, &pb.JobLogsRequest{JobId: job, FromLine: from, Follow: true})
	if err != nil {
		return errs.FromStatus(err)
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errs.FromStatus(err)
		}
		for _, l := range m.Lines {
			fmt.Fprintln(w, l)
		}
		if m.Ended {
			return nil
		}
	}
}

// jobRequest sends one request about the job named by arg (GetJob,
// StopJob) to the head and returns the job it answers with.
func jobRequest(hf *headFlags, arg string, call func(pb.HeadClient, context.Context, *pb.GetJobRequest, ...grpc.CallOption) (*pb.SubmittedJob, error)) (*pb.SubmittedJob, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := hf.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	id, err := resolveJob(ctx, conn, arg)
	if err != nil {
		return nil, err
	}
	job, err := call(pb.NewHeadClient(conn), ctx, &pb.GetJobRequest{JobId: id.Bytes()})
	if err != nil {
		return nil, errs.FromStatus(err)
	}
	return job, nil
}

func newJobStatusCommand() *cobra.Command {
	var (
		hf     headFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status JOB_ID",
		Short: "Show a submitted job's state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := jobRequest(&hf, args[0], pb.HeadClient.GetJob)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(job)
			}
			printJobs([]*pb.SubmittedJob{job})
			return nil
		},
	}
	hf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newJobLogsCommand() *cobra.Command {
	var (
		hf     headFlags
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "logs JOB_ID",
		Short: "Print a submitted job's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			conn, err := hf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			id, err := resolveJob(ctx, conn, args[0])
			if err != nil {
				return err
			}
			if follow {
				return followLogs(ctx, conn, id.Bytes(), 0, os.Stdout)
			}
			stream, err := pb.NewHeadClient(conn).JobLogs(ctx, &pb.JobLogsRequest{JobId: id.Bytes()})
			if err != nil {
				return errs.FromStatus(err)
			}
			for {
				m, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return errs.FromStatus(err)
				}
				for _, l := range m.Lines {
					fmt.Println(l)
				}
			}
		},
	}
	hf.register(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the job ends")
	return cmd
}

func newJobStopCommand() *cobra.Command {
	var hf headFlags
	cmd := &cobra.Command{
		Use:   "stop JOB_ID",
		Short: "Stop a submitted job (its driver, and so its tasks)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := jobRequest(&hf, args[0], pb.HeadClient.StopJob)
			if err != nil {
				return err
			}
			printJobs([]*pb.SubmittedJob{job})
			return nil
		},
	}
	hf.register(cmd)
	return cmd
}

func newJobListCommand() *cobra.Command {
	var (
		hf     headFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the jobs submitted to a cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			conn, err := hf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			r, err := pb.NewHeadClient(conn).ListJobs(ctx, &pb.ListJobsRequest{})
			if err != nil {
				return errs.FromStatus(err)
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(r.Jobs)
			}
			printJobs(r.Jobs)
			return nil
		},
	}
	hf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printJobs(jobs []*pb.SubmittedJob) {
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tNAME\tSTATE\tEXIT\tSTARTED\tPACKAGE\tLOG LINES")
	for _, j := range jobs {
		id, _ := ids.FromBytes("job id", j.JobId)
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%d\n", id.Abbrev(), j.Name, stateName(j.State), j.ExitCode,
			time.UnixMilli(j.StartedUnixMs).Format(time.TimeOnly), j.PackageHash[:min(12, len(j.PackageHash))], j.LogLines)
	}
	w.Flush()
}

// kcinterop-bench is the Go half of bench/ttrpc-rtt: containerd's ttrpc
// client and server with the Task API stubs, doing exactly what
// bench/ttrpc_rtt.c does with ours.
//
//	kcinterop-bench serve unix:///path
//	kcinterop-bench client unix:///path CALLS WARMUP CONC
//
// The client prints one line:
//
//	median_ns=N p99_ns=N rate1=N rateN=N conc=N req_bytes=N resp_bytes=N
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/task"
	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"

	"kcinterop/tasksvc"
)

// ContainerID is a realistic 64-hex-digit container id.
const ContainerID = "3f9a1c0e7b5d4a2f8e6c1b0a9d8f7e6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"

type benchSvc struct {
	*tasksvc.Service
}

// State answers like a shim does for a running container.
func (benchSvc) State(ctx context.Context, r *task.StateRequest) (*task.StateResponse, error) {
	if _, err := namespaces.NamespaceRequired(ctx); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	fifo := "/run/containerd/fifo/1234567890/" + r.ID
	return &task.StateResponse{
		ID:     r.ID,
		ExecID: r.ExecID,
		Bundle: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + r.ID,
		Pid:    4242,
		Status: tasktypes.StatusRunning,
		Stdin:  fifo + "-stdin",
		Stdout: fifo + "-stdout",
		Stderr: fifo + "-stderr",
	}, nil
}

func serve(path string) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	srv, err := ttrpc.NewServer(ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ttrpc server:", err)
		os.Exit(1)
	}
	task.RegisterTaskService(srv, benchSvc{tasksvc.New()})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		srv.Close()
	}()
	if err := srv.Serve(context.Background(), l); err != nil && err != ttrpc.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	os.Remove(path)
}

func client(path string, calls, warmup, conc int) {
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if conn, err = net.Dial("unix", path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	tc := ttrpc.NewClient(conn)
	defer tc.Close()
	c := task.NewTaskClient(tc)
	ctx := namespaces.WithNamespace(context.Background(), "k8s.io")
	req := &task.StateRequest{ID: ContainerID}
	var respBytes int64

	one := func() {
		resp, err := c.State(ctx, req)
		if err != nil || resp.ID != ContainerID {
			fmt.Fprintln(os.Stderr, "State:", err)
			os.Exit(1)
		}
		atomic.StoreInt64(&respBytes, int64(proto.Size(resp)))
	}

	for i := 0; i < warmup; i++ {
		one()
	}
	lat := make([]time.Duration, calls)
	t0 := time.Now()
	for i := range lat {
		t := time.Now()
		one()
		lat[i] = time.Since(t)
	}
	rate1 := float64(calls) / time.Since(t0).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })

	// conc calls in flight on the one connection, as containerd's goroutines do.
	run := func(n int) time.Duration {
		var next int64
		var wg sync.WaitGroup
		t := time.Now()
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for atomic.AddInt64(&next, 1) <= int64(n) {
					one()
				}
			}()
		}
		wg.Wait()
		return time.Since(t)
	}
	run(warmup)
	rateN := float64(calls) / run(calls).Seconds()

	fmt.Printf("median_ns=%d p99_ns=%d rate1=%.0f rateN=%.0f conc=%d req_bytes=%d resp_bytes=%d\n",
		lat[calls/2].Nanoseconds(), lat[calls*99/100].Nanoseconds(), rate1, rateN, conc,
		proto.Size(req), respBytes)
}

func main() {
	usage := func() {
		fmt.Fprintln(os.Stderr, "usage: kcinterop-bench serve ADDR | client ADDR CALLS WARMUP CONC")
		os.Exit(2)
	}
	if len(os.Args) < 3 {
		usage()
	}
	path := tasksvc.SocketPath(os.Args[2])
	switch os.Args[1] {
	case "serve":
		serve(path)
	case "client":
		if len(os.Args) != 6 {
			usage()
		}
		var n [3]int
		for i := range n {
			v, err := strconv.Atoi(os.Args[3+i])
			if err != nil || v < 1 {
				usage()
			}
			n[i] = v
		}
		client(path, n[0], n[1], n[2])
	default:
		usage()
	}
}

// kcinterop-server serves tasksvc (the deterministic containerd.task.v2.Task)
// with containerd's own ttrpc, set up the way containerd's shims do it.
//
//	kcinterop-server unix:///path/to.sock
//
// It prints "ready" once listening and serves until SIGTERM/SIGINT.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/containerd/containerd/runtime/v2/task"
	"github.com/containerd/ttrpc"

	"kcinterop/tasksvc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kcinterop-server unix:///path")
		os.Exit(2)
	}
	path := tasksvc.SocketPath(os.Args[1])
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
	task.RegisterTaskService(srv, tasksvc.New())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		srv.Close()
	}()
	fmt.Println("ready")
	if err := srv.Serve(context.Background(), l); err != nil && err != ttrpc.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	os.Remove(path)
}

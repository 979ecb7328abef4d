// kcinterop-client drives a containerd.task.v2.Task server that behaves like
// tasksvc with containerd's own Go ttrpc client and Task API stubs, the way
// containerd talks to a shim: namespace in the ttrpc metadata, deadlines from
// the context. It prints one line per step (tests/interop/expected-output.txt;
// tests/interop/ttrpc_peer.c prints the same) and exits 1 on any mismatch.
//
//	kcinterop-client unix:///path/to.sock
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/api/types"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/task"
	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"kcinterop/tasksvc"
)

const svcName = "containerd.task.v2.Task"

var failed bool

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		fmt.Fprintf(os.Stderr, "MISMATCH: "+format+"\n", args...)
		failed = true
	}
}

func say(format string, args ...interface{}) {
	fmt.Printf(format+"\n", args...)
}

// code of a ttrpc error; a context error means the client gave up itself.
func code(err error) codes.Code {
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return status.FromContextError(err).Code()
}

func errLine(err error) string {
	s, _ := status.FromError(err)
	return fmt.Sprintf("%s: %s", s.Code(), s.Message())
}

func wantErr(what string, err error, c codes.Code, msg string) {
	if err == nil {
		check(false, "%s: succeeded, want %s", what, c)
		return
	}
	say("%s: %s", what, errLine(err))
	check(code(err) == c, "%s: code %s, want %s", what, code(err), c)
	if msg != "" {
		check(status.Convert(err).Message() == msg, "%s: message %q, want %q", what, status.Convert(err).Message(), msg)
	}
}

func wantCode(what string, err error, c codes.Code) {
	check(err != nil, "%s: succeeded, want %s", what, c)
	if err != nil {
		say("%s: %s", what, code(err))
		check(code(err) == c, "%s: code %s (%v), want %s", what, code(err), err, c)
	}
}

func mustOK(what string, err error) bool {
	check(err == nil, "%s: %v", what, err)
	return err == nil
}

func stateLine(r *task.StateResponse) string {
	s := fmt.Sprintf("id=%s exec_id=%s bundle=%s pid=%d status=%s terminal=%t stdin=%s stdout=%s stderr=%s exit_status=%d",
		r.ID, r.ExecID, r.Bundle, r.Pid, r.Status, r.Terminal, r.Stdin, r.Stdout, r.Stderr, r.ExitStatus)
	if r.Status == tasktypes.StatusStopped {
		s += fmt.Sprintf(" exited_at=%d.%09d", r.ExitedAt.Unix(), r.ExitedAt.Nanosecond())
	}
	return s
}

func exitedAt(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func dial(path string) net.Conn {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			return conn
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connect polls Connect until the version string satisfies ok (the server
// notices a parked or expired Wait on its own schedule).
func connect(ctx context.Context, c task.TaskService, id string, ok func(string) bool) *task.ConnectResponse {
	var r *task.ConnectResponse
	var err error
	for i := 0; i < 300; i++ {
		r, err = c.Connect(ctx, &task.ConnectRequest{ID: id})
		if err != nil || ok(r.Version) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !mustOK("connect "+id, err) {
		return &task.ConnectResponse{}
	}
	return r
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kcinterop-client unix:///path")
		os.Exit(2)
	}
	conn := dial(tasksvc.SocketPath(os.Args[1]))
	tc := ttrpc.NewClient(conn)
	defer tc.Close()
	c := task.NewTaskClient(tc)
	bg := context.Background()
	ctx := namespaces.WithNamespace(bg, "k8s.io")

	_, err := c.State(bg, &task.StateRequest{ID: "c1"})
	wantErr("state c1 (no namespace)", err, codes.FailedPrecondition, "namespace is required: failed precondition")

	c1 := &task.CreateTaskRequest{
		ID:     "c1",
		Bundle: "/run/kc/k8s.io/c1",
		Rootfs: []*types.Mount{
			{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l/2:/l/1", "upperdir=/u", "workdir=/w", "index=off"}},
			{Type: "bind", Source: "/var/lib/kc/shared", Target: "/shared", Options: []string{"rbind", "ro"}},
		},
		Terminal: true,
		Stdin:    "hvsock:///run/kc/vm.vsock:2001",
		Stdout:   "hvsock:///run/kc/vm.vsock:2002",
	}
	p1 := tasksvc.PidFor(c1)
	if cr, err := c.Create(ctx, c1); mustOK("create c1", err) {
		say("create c1: pid=%d", cr.Pid)
		check(cr.Pid == p1, "create c1: pid %d, want %d", cr.Pid, p1)
	}
	_, err = c.Create(ctx, c1)
	wantErr("create c1 again", err, codes.AlreadyExists, `task "c1": already exists`)

	if st, err := c.State(ctx, &task.StateRequest{ID: "c1"}); mustOK("state c1", err) {
		say("state c1: %s", stateLine(st))
		check(st.ID == "c1" && st.Bundle == c1.Bundle && st.Pid == p1 && st.Status == tasktypes.StatusCreated &&
			st.Terminal && st.Stdin == c1.Stdin && st.Stdout == c1.Stdout && st.Stderr == "", "state c1: %+v", st)
	}
	if sr, err := c.Start(ctx, &task.StartRequest{ID: "c1"}); mustOK("start c1", err) {
		say("start c1: pid=%d", sr.Pid)
		check(sr.Pid == p1, "start c1: pid %d", sr.Pid)
	}

	// Wait blocks in the server until Kill.
	type waitResult struct {
		r   *task.WaitResponse
		err error
	}
	waitCh := make(chan waitResult, 1)
	go func() {
		r, err := c.Wait(ctx, &task.WaitRequest{ID: "c1"})
		waitCh <- waitResult{r, err}
	}()
	cr := connect(ctx, c, "c1", func(v string) bool { return strings.Contains(v, "waiting=1") })
	check(strings.Contains(cr.Version, "waiting=1"), "wait c1 never parked: %s", cr.Version)
	say("wait c1: parked")
	if _, err := c.Kill(ctx, &task.KillRequest{ID: "c1", Signal: 9, All: true}); mustOK("kill c1", err) {
		say("kill c1 signal=9 all=true: ok")
	}
	select {
	case w := <-waitCh:
		if mustOK("wait c1", w.err) {
			say("wait c1: exit_status=%d exited_at=%s", w.r.ExitStatus, exitedAt(w.r.ExitedAt))
			check(w.r.ExitStatus == 137 && w.r.ExitedAt.Equal(tasksvc.ExitedAt), "wait c1: %+v", w.r)
		}
	case <-time.After(5 * time.Second):
		check(false, "wait c1: no answer after kill")
	}
	if st, err := c.State(ctx, &task.StateRequest{ID: "c1", ExecID: "e1"}); mustOK("state c1", err) {
		say("state c1 exec_id=e1: %s", stateLine(st))
		check(st.ExecID == "e1" && st.Status == tasktypes.StatusStopped && st.ExitStatus == 137 &&
			st.ExitedAt.Equal(tasksvc.ExitedAt), "state c1 after kill: %+v", st)
	}
	_, err = c.State(ctx, &task.StateRequest{ID: "missing"})
	wantErr("state missing", err, codes.NotFound, `task "missing": not found`)

	_, err = c.Pause(ctx, &task.PauseRequest{ID: "c1"})
	wantCode("pause c1", err, codes.Unimplemented)
	err = tc.Call(ctx, svcName, "Frobnicate", &task.StateRequest{ID: "c1"}, &task.StateResponse{})
	wantCode("method Frobnicate", err, codes.Unimplemented)
	err = tc.Call(ctx, "containerd.task.v2.Nope", "State", &task.StateRequest{ID: "c1"}, &task.StateResponse{})
	wantCode("service containerd.task.v2.Nope", err, codes.Unimplemented)

	// Deadlines: context.WithTimeout becomes the request's timeout_nano.
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if r, err := c.Connect(dctx, &task.ConnectRequest{ID: "c1"}); mustOK("connect c1", err) {
		say("connect c1 (30s deadline): task_pid=%d version=%s", r.TaskPid, r.Version)
		check(r.TaskPid == p1 && r.Version == "ns=k8s.io deadline=30s waiting=0 cancelled=0", "connect c1: %+v", r)
	}
	cancel()

	c2 := &task.CreateTaskRequest{ID: "c2", Bundle: "/run/kc/k8s.io/c2", Stdout: "/run/kc/c2.log", Stderr: "/run/kc/c2.log"}
	p2 := tasksvc.PidFor(c2)
	if cr, err := c.Create(ctx, c2); mustOK("create c2", err) {
		say("create c2: pid=%d", cr.Pid)
		check(cr.Pid == p2, "create c2: pid %d, want %d", cr.Pid, p2)
	}
	dctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
	t0 := time.Now()
	_, err = c.Wait(dctx, &task.WaitRequest{ID: "c2"})
	elapsed := time.Since(t0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) && code(err) != codes.DeadlineExceeded {
		check(false, "wait c2: %v, want deadline exceeded", err)
	}
	say("wait c2 (200ms deadline): %s", code(err))
	check(elapsed >= 200*time.Millisecond && elapsed < 2*time.Second, "wait c2: gave up after %v", elapsed)
	cr = connect(ctx, c, "c2", func(v string) bool { return strings.Contains(v, "cancelled=1") })
	say("connect c2: task_pid=%d version=%s", cr.TaskPid, cr.Version)
	check(cr.TaskPid == p2 && cr.Version == "ns=k8s.io deadline=none waiting=0 cancelled=1", "connect c2: %+v", cr)

	big := &task.CreateTaskRequest{
		ID:     "big",
		Bundle: "/run/kc/k8s.io/big",
		Rootfs: []*types.Mount{{Type: "overlay", Source: "overlay",
			Options: []string{"lowerdir=" + strings.Repeat("/var/lib/kc/layers/0123456789abcdef:", 1<<20/36)}}},
	}
	p3 := tasksvc.PidFor(big)
	if cr, err := c.Create(ctx, big); mustOK("create big", err) {
		say("create big (1 MiB option): pid=%d", cr.Pid)
		check(cr.Pid == p3, "create big: pid %d, want %d", cr.Pid, p3)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e := fmt.Sprintf("e%d", i)
			st, err := c.State(ctx, &task.StateRequest{ID: "c2", ExecID: e})
			if err != nil || st.ID != "c2" || st.ExecID != e || st.Pid != p2 {
				mu.Lock()
				bad++
				mu.Unlock()
				fmt.Fprintf(os.Stderr, "concurrent State %s: %v %+v\n", e, err, st)
			}
		}(i)
	}
	wg.Wait()
	check(bad == 0, "%d of 64 concurrent State calls wrong", bad)
	say("64 concurrent State c2: %d wrong", bad)

	_, err = c.Delete(ctx, &task.DeleteRequest{ID: "c2"})
	wantErr("delete c2", err, codes.FailedPrecondition, `task "c2" must be stopped: failed precondition`)
	if _, err := c.Kill(ctx, &task.KillRequest{ID: "c2", Signal: 15}); mustOK("kill c2", err) {
		say("kill c2 signal=15 all=false: ok")
	}
	for _, d := range []struct {
		id   string
		pid  uint32
		exit uint32
	}{{"c2", p2, 15}, {"c1", p1, 137}} {
		if r, err := c.Delete(ctx, &task.DeleteRequest{ID: d.id}); mustOK("delete "+d.id, err) {
			say("delete %s: pid=%d exit_status=%d exited_at=%s", d.id, r.Pid, r.ExitStatus, exitedAt(r.ExitedAt))
			check(r.Pid == d.pid && r.ExitStatus == d.exit && r.ExitedAt.Equal(tasksvc.ExitedAt), "delete %s: %+v", d.id, r)
		}
	}
	_, err = c.State(ctx, &task.StateRequest{ID: "c1"})
	wantErr("state c1 after delete", err, codes.NotFound, `task "c1": not found`)

	if failed {
		os.Exit(1)
	}
}

// Package tasksvc is the deterministic containerd.task.v2.Task service that the
// interop peers implement twice, here in Go and in tests/interop/ttrpc_peer.c,
// so that every client/server pairing must print the same lines
// (tests/interop/expected-output.txt).
//
// Behaviour (errors are made the way containerd's shims make them,
// errdefs.ToGRPC of a wrapped errdefs error):
//
//   - Every call needs the containerd-namespace-ttrpc header, else
//     FailedPrecondition "namespace is required: failed precondition".
//   - Create stores the task (status CREATED) and answers pid = PidFor(req), an
//     FNV-1a hash over every field the client sent, mounts and options
//     included. A second Create of an id is AlreadyExists `task "ID": already exists`.
//   - Any call naming an unknown id is NotFound `task "ID": not found`.
//   - Start: status RUNNING, answers the pid.
//   - State echoes id and exec_id and reports what Create stored; exited_at
//     only once stopped.
//   - Kill: exit_status = signal + 128 if all, status STOPPED, exited_at =
//     ExitedAt; wakes every Wait of the task.
//   - Wait answers once the task is stopped. A Wait whose deadline passes (or
//     whose connection goes away) first is counted in "cancelled".
//   - Delete of a task that is not stopped is FailedPrecondition
//     `task "ID" must be stopped: failed precondition`; otherwise it answers
//     pid, exit_status, exited_at and forgets the task.
//   - Connect (introspection for the tests): task_pid = the task's pid (0 if
//     unknown, no error), version = "ns=NS deadline=Ns|none waiting=N cancelled=N",
//     where deadline is the call's remaining time rounded up to seconds.
//   - Every other method is Unimplemented "not implemented".
package tasksvc

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/task"
	ptypes "github.com/gogo/protobuf/types"
)

// ExitedAt is the exit time every killed task reports.
var ExitedAt = time.Unix(1700000000, 123456789)

// PidFor hashes every field of a CreateTaskRequest the test sets.
func PidFor(r *task.CreateTaskRequest) uint32 {
	h := fnv.New32a()
	term := "0"
	if r.Terminal {
		term = "1"
	}
	fields := []string{r.ID, r.Bundle, term, r.Stdin, r.Stdout, r.Stderr}
	for _, m := range r.Rootfs {
		fields = append(fields, "mount", m.Type, m.Source, m.Target)
		fields = append(fields, m.Options...)
	}
	h.Write([]byte(strings.Join(fields, "\n")))
	return h.Sum32()
}

type taskState struct {
	req        task.CreateTaskRequest
	pid        uint32
	status     tasktypes.Status
	exitStatus uint32
	exited     chan struct{} // closed by Kill
}

// Service implements task.TaskService.
type Service struct {
	mu        sync.Mutex
	tasks     map[string]*taskState
	waiting   int
	cancelled int
}

func New() *Service {
	return &Service{tasks: map[string]*taskState{}}
}

var _ task.TaskService = (*Service)(nil)

func notFound(id string) error {
	return errdefs.ToGRPCf(errdefs.ErrNotFound, "task %q", id)
}

func (s *Service) lookup(ctx context.Context, id string) (*taskState, error) {
	if _, err := namespaces.NamespaceRequired(ctx); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	t, ok := s.tasks[id]
	if !ok {
		return nil, notFound(id)
	}
	return t, nil
}

func (s *Service) Create(ctx context.Context, r *task.CreateTaskRequest) (*task.CreateTaskResponse, error) {
	if _, err := namespaces.NamespaceRequired(ctx); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[r.ID]; ok {
		return nil, errdefs.ToGRPCf(errdefs.ErrAlreadyExists, "task %q", r.ID)
	}
	t := &taskState{req: *r, pid: PidFor(r), status: tasktypes.StatusCreated, exited: make(chan struct{})}
	s.tasks[r.ID] = t
	return &task.CreateTaskResponse{Pid: t.pid}, nil
}

func (s *Service) Start(ctx context.Context, r *task.StartRequest) (*task.StartResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookup(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	t.status = tasktypes.StatusRunning
	return &task.StartResponse{Pid: t.pid}, nil
}

func (s *Service) State(ctx context.Context, r *task.StateRequest) (*task.StateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookup(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	resp := &task.StateResponse{
		ID:         r.ID,
		ExecID:     r.ExecID,
		Bundle:     t.req.Bundle,
		Pid:        t.pid,
		Status:     t.status,
		Stdin:      t.req.Stdin,
		Stdout:     t.req.Stdout,
		Stderr:     t.req.Stderr,
		Terminal:   t.req.Terminal,
		ExitStatus: t.exitStatus,
	}
	if t.status == tasktypes.StatusStopped {
		resp.ExitedAt = ExitedAt
	}
	return resp, nil
}

func (s *Service) Kill(ctx context.Context, r *task.KillRequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookup(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	t.exitStatus = r.Signal
	if r.All {
		t.exitStatus += 128
	}
	if t.status != tasktypes.StatusStopped {
		t.status = tasktypes.StatusStopped
		close(t.exited)
	}
	return &ptypes.Empty{}, nil
}

func (s *Service) Wait(ctx context.Context, r *task.WaitRequest) (*task.WaitResponse, error) {
	s.mu.Lock()
	t, err := s.lookup(ctx, r.ID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.waiting++
	s.mu.Unlock()

	select {
	case <-t.exited:
		s.mu.Lock()
		defer s.mu.Unlock()
		s.waiting--
		return &task.WaitResponse{ExitStatus: t.exitStatus, ExitedAt: ExitedAt}, nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		s.waiting--
		s.cancelled++
		return nil, ctx.Err()
	}
}

func (s *Service) Delete(ctx context.Context, r *task.DeleteRequest) (*task.DeleteResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookup(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if t.status != tasktypes.StatusStopped {
		return nil, errdefs.ToGRPCf(errdefs.ErrFailedPrecondition, "task %q must be stopped", r.ID)
	}
	delete(s.tasks, r.ID)
	return &task.DeleteResponse{Pid: t.pid, ExitStatus: t.exitStatus, ExitedAt: ExitedAt}, nil
}

func (s *Service) Connect(ctx context.Context, r *task.ConnectRequest) (*task.ConnectResponse, error) {
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dl := "none"
	if d, ok := ctx.Deadline(); ok {
		dl = fmt.Sprintf("%ds", int64(math.Ceil(time.Until(d).Seconds())))
	}
	resp := &task.ConnectResponse{
		Version: fmt.Sprintf("ns=%s deadline=%s waiting=%d cancelled=%d", ns, dl, s.waiting, s.cancelled),
	}
	if t, ok := s.tasks[r.ID]; ok {
		resp.TaskPid = t.pid
	}
	return resp, nil
}

func unimplemented() error {
	return errdefs.ToGRPC(errdefs.ErrNotImplemented)
}

func (s *Service) Pids(context.Context, *task.PidsRequest) (*task.PidsResponse, error) {
	return nil, unimplemented()
}
func (s *Service) Pause(context.Context, *task.PauseRequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}
func (s *Service) Resume(context.Context, *task.ResumeRequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}
func (s *Service) Checkpoint(context.Context, *task.CheckpointTaskRequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}
func (s *Service) Exec(context.Context, *task.ExecProcessRequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}
func (s *Service) ResizePty(context.Context, *task.ResizePtyRequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}
func (s *Service) CloseIO(context.Context, *task.CloseIORequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}
func (s *Service) Update(context.Context, *task.UpdateTaskRequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}
func (s *Service) Stats(context.Context, *task.StatsRequest) (*task.StatsResponse, error) {
	return nil, unimplemented()
}
func (s *Service) Shutdown(context.Context, *task.ShutdownRequest) (*ptypes.Empty, error) {
	return nil, unimplemented()
}

// SocketPath accepts our endpoint syntax for unix sockets: unix:///path or /path.
func SocketPath(addr string) string {
	return strings.TrimPrefix(strings.TrimPrefix(addr, "ttrpc+"), "unix://")
}

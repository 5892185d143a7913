package runcore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hotcold/hotcold/state"
)

// The control socket: a running job answers checkpoint requests on a Unix
// socket beside its state (ControlSocket), so that `hotcold join
// checkpoint` / `hotcold agg checkpoint` take a consistent copy of its
// state while it runs. Pebble locks a store for its one process, so only
// the job itself can checkpoint its open partitions.

// controlName is the socket's file name in the state root.
const controlName = ".hotcold-control.sock"

// maxSocketPath is below the sun_path limit of every Unix (104 on macOS
// and BSD, 108 on Linux).
const maxSocketPath = 100

// ControlSocket is the path of the control socket of the job whose state
// root (state.dir) is root: root/.hotcold-control.sock, or, when that path
// is too long for a Unix socket, a file in the temporary directory named
// after root.
func ControlSocket(root string) string {
	abs, err := filepath.Abs(root)
	if err != nil {
		abs = root
	}
	p := filepath.Join(abs, controlName)
	if len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "hotcold-"+hex.EncodeToString(sum[:8])+".sock")
}

type controlRequest struct {
	// Checkpoint is the directory to write a checkpoint of every partition
	// into (p<N> below it).
	Checkpoint string `json:"checkpoint"`
}

type controlResponse struct {
	PID        int      `json:"pid"`
	Partitions []string `json:"partitions,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// serveControl listens on the control socket of the runner's state root
// until the returned function is called. A socket another live process
// serves is left alone (logged: that process answers checkpoints).
func (r *Runner) serveControl() func() {
	path := ControlSocket(r.cfg.StateDir)
	if err := os.MkdirAll(r.cfg.StateDir, 0o755); err != nil {
		r.log.Warn("no checkpoint control socket", "err", err)
		return func() {}
	}
	ln, err := net.Listen("unix", path)
	if err != nil && errors.Is(err, syscall.EADDRINUSE) {
		if c, derr := net.DialTimeout("unix", path, time.Second); derr == nil {
			c.Close()
			r.log.Warn("another process serves the checkpoint control socket of this state directory", "socket", path)
			return func() {}
		}
		// Left by a process that was killed.
		os.Remove(path)
		ln, err = net.Listen("unix", path)
	}
	if err != nil {
		r.log.Warn("no checkpoint control socket: hotcold checkpoint cannot copy this job's state while it runs", "socket", path, "err", err)
		return func() {}
	}
	// Only the job's own user may ask it to write a checkpoint (connecting
	// to a Unix socket needs write permission on it), whatever the umask.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		r.log.Warn("no checkpoint control socket: cannot restrict it to this user", "socket", path, "err", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.serveConn(c)
		}
	}()
	return func() {
		ln.Close() // removes the socket file
		<-done
	}
}

func (r *Runner) serveConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Minute))
	var req controlRequest
	resp := controlResponse{PID: os.Getpid()}
	line, err := bufio.NewReader(io.LimitReader(c, 64<<10)).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err == nil && req.Checkpoint == "" {
		err = errors.New("no checkpoint directory in the request")
	}
	if err == nil {
		resp.Partitions, err = r.checkpointOpen(req.Checkpoint)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	b, _ := json.Marshal(resp)
	_, _ = c.Write(append(b, '\n'))
}

var partDirRE = regexp.MustCompile(`^p(\d+)$`)

// partitionDirs lists the p<N> directories of a state root, by number.
func partitionDirs(root string) ([]int32, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []int32
	for _, e := range ents {
		if g := partDirRE.FindStringSubmatch(e.Name()); g != nil && e.IsDir() {
			n, err := strconv.ParseInt(g[1], 10, 32)
			if err == nil {
				out = append(out, int32(n))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkpointOpen checkpoints every partition of the state root into dst
// (dst/p<N>): each is a Pebble checkpoint of the partition's committed
// state, with its offsets, consistent on its own. Every partition on disk
// must be open in this process: one it does not own (another member of the
// group has it, or it is not assigned yet) is an error, and so is one it was
// assigned and is still opening (the checkpoint would leave it out).
func (r *Runner) checkpointOpen(dst string) ([]string, error) {
	ids, err := partitionDirs(r.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock() // no partition is opened or closed meanwhile
	if len(r.opening) > 0 {
		// Assigned and still being opened: a checkpoint now would leave
		// them out (or, restarted, refuse them as not open).
		var names []string
		for _, id := range slices.Sorted(maps.Keys(r.opening)) {
			names = append(names, "p"+strconv.Itoa(int(id)))
		}
		return nil, fmt.Errorf("the job (pid %d) is still opening partitions %s it was assigned: try again once they are open", os.Getpid(), strings.Join(names, ", "))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the job (pid %d) has no partition state in %s yet: try again once it has been assigned its partitions", os.Getpid(), r.cfg.StateDir)
	}
	var missing []string
	for _, id := range ids {
		if r.parts[id] == nil {
			missing = append(missing, "p"+strconv.Itoa(int(id)))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("partitions %s of %s are not open in the running job (pid %d; it owns %d): another member of group %s owns them, or they are not assigned yet; try again, or stop the job and checkpoint its stopped state",
			strings.Join(missing, ", "), r.cfg.StateDir, os.Getpid(), len(r.parts), r.cfg.Group)
	}
	var done []string
	for _, id := range ids {
		name := "p" + strconv.Itoa(int(id))
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		if err := r.parts[id].db.Checkpoint(context.Background(), to); err != nil {
			return nil, fmt.Errorf("partition %s: %w", name, err)
		}
		if err := copyMetadata(filepath.Join(r.cfg.StateDir, name), to); err != nil {
			return nil, fmt.Errorf("partition %s: %w", name, err)
		}
		done = append(done, name)
	}
	r.log.Info("state checkpointed", "dir", dst, "partitions", strings.Join(done, ","))
	return done, nil
}

// isMetadata reports whether a file of a state directory is the job's own
// metadata (its manifest), not a file of the Pebble store, which its
// checkpoint copies.
func isMetadata(name string) bool {
	switch filepath.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// copyMetadata copies the metadata files (isMetadata) of dir into dst.
func copyMetadata(dir, dst string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !isMetadata(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if err := state.WriteFileAtomic(filepath.Join(dst, e.Name()), b); err != nil {
			return err
		}
	}
	return nil
}

// CheckpointResult is what Checkpoint copied.
type CheckpointResult struct {
	// Dir is the checkpoint: one p<N> per partition, ready to start a job
	// on (--state-dir) or to migrate.
	Dir string
	// LivePID is the process id of the running job that took it; 0 when
	// no job ran and the stopped state was copied.
	LivePID int
	// Offsets are the committed input offsets of each partition in the
	// checkpoint, read back from it.
	Offsets map[string]map[state.TopicPartition]int64
}

// Checkpoint takes a consistent copy of the state root of a job (the
// state.dir of hotcold join or hotcold agg) into out, which must not
// exist. While the job runs, the job itself checkpoints each of its open
// partitions (through its control socket); when no job runs, the stopped
// state is checkpointed directly. Each partition's copy holds its
// committed state with the offsets it reflects, so a job started on it
// resumes exactly there. The copy is built in out.partial, opened
// read-only to check it, and renamed to out.
func Checkpoint(ctx context.Context, root, out string) (*CheckpointResult, error) {
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("checkpoint: %s already exists: give a new directory", out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ids, err := partitionDirs(root)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read the state directory %s: %w (give the job's state.dir, or --state-dir)", root, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("checkpoint: %s holds no partition state (p0, p1, ...): give the state.dir of a job that has run", root)
	}
	tmp := out + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	absTmp, err := filepath.Abs(tmp)
	if err != nil {
		return nil, err
	}
	res := &CheckpointResult{Dir: out, Offsets: map[string]map[state.TopicPartition]int64{}}
	pid, err := askCheckpoint(ctx, root, absTmp)
	switch {
	case err == nil:
		res.LivePID = pid
	case errors.Is(err, errNoJob):
		if err := checkpointStopped(ctx, root, ids, tmp); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
	default:
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := copyMetadata(root, tmp); err != nil {
		return nil, err
	}
	for _, id := range ids {
		name := "p" + strconv.Itoa(int(id))
		db, err := state.Open(filepath.Join(tmp, name), state.Options{ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("checkpoint: the copy of %s does not open: %w", name, err)
		}
		res.Offsets[name] = maps.Clone(db.Offsets())
		if err := db.Close(); err != nil {
			return nil, err
		}
	}
	if d, err := os.Open(tmp); err == nil {
		_ = d.Sync()
		d.Close()
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	return res, nil
}

var errNoJob = errors.New("no running job answers on the control socket")

// askCheckpoint asks the running job of root to checkpoint into dst and
// returns its pid; errNoJob when none runs.
func askCheckpoint(ctx context.Context, root, dst string) (int, error) {
	path := ControlSocket(root)
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return 0, errNoJob
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	req, _ := json.Marshal(controlRequest{Checkpoint: dst})
	if _, err := c.Write(append(req, '\n')); err != nil {
		return 0, fmt.Errorf("checkpoint: ask the running job (%s): %w", path, err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("checkpoint: the running job (%s) did not answer: %w", path, err)
	}
	var resp controlResponse
	if err := json.Unmarshal(line, &resp); err != nil {
		return 0, fmt.Errorf("checkpoint: the running job (%s) answered %q: %w", path, line, err)
	}
	if resp.Error != "" {
		return 0, fmt.Errorf("checkpoint: the running job (pid %d) could not checkpoint: %s", resp.PID, resp.Error)
	}
	return resp.PID, nil
}

// copyFiles copies the regular files of dir (not its lock) into the new
// directory dst, synced.
func copyFiles(ctx context.Context, dir, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		if err := copyFile(filepath.Join(dir, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// checkpointStopped copies the partitions of a stopped job's state, each
// while holding its lock.
func checkpointStopped(ctx context.Context, root string, ids []int32, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, id := range ids {
		name := "p" + strconv.Itoa(int(id))
		dir := filepath.Join(root, name)
		db, err := state.Open(dir, state.Options{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("checkpoint: open %s: %w (a job that holds it must be a hotcold join or agg that answers on %s; is an older one running?)", dir, err, ControlSocket(root))
		}
		// The open store holds the lock, so no job writes the files while
		// they are copied; a read-only store writes nothing itself.
		err = copyFiles(ctx, dir, filepath.Join(dst, name))
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("checkpoint: %s: %w", dir, err)
		}
	}
	return nil
}

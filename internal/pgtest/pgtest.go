// Package pgtest runs a throwaway PostgreSQL server for tests: initdb in a
// temporary folder, postgres on a free 127.0.0.1 port, a fresh database per
// test. The server starts on first use and stops when the test binary calls
// Stop (from TestMain) or, failing that, when the test process dies.
//
// It needs the server binaries of Debian's postgresql package (initdb,
// postgres), found on PATH or in /usr/lib/postgresql/*/bin; `make test`
// installs the package. Without them a test skips, unless
// GGUFD_REQUIRE_POSTGRES=1 (set by `make test`) makes that a failure.
//
// PostgreSQL refuses to run as root: as root the server runs as the postgres
// user, the folder chowned to it.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv names the variable that turns a missing PostgreSQL into a
// failure instead of a skip.
const RequireEnv = "GGUFD_REQUIRE_POSTGRES"

// superuser is the role initdb creates; trust authentication on loopback.
const superuser = "ggufd"

type server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
}

// syncBuffer is the server's output, written by exec's copier while a
// failing test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	startOnce sync.Once
	started   *server
	startErr  error
	missing   bool // the binaries are not installed
	databases atomic.Int64
)

// Options tune the database DSN creates.
type Options struct {
	// Durable keeps synchronous_commit on, so each commit waits for its WAL
	// flush as a production server's does (for benchmarks). Tests default
	// to off: the cluster is thrown away, and commits return sooner.
	Durable bool
}

// DSN creates an empty database on the shared test server and returns its
// postgres:// URL.
func DSN(tb testing.TB) string { return DSNWith(tb, Options{}) }

// DSNWith is DSN with options.
func DSNWith(tb testing.TB, opts Options) string {
	tb.Helper()
	srv := start(tb)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), databases.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, srv.url("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	commit := "off"
	if opts.Durable {
		commit = "on"
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" SET synchronous_commit = "+commit); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return srv.url(name)
}

func (s *server) url(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Host: "127.0.0.1:" + strconv.Itoa(s.port), Path: "/" + db,
		RawQuery: "sslmode=disable"}
	return u.String()
}

func start(tb testing.TB) *server {
	tb.Helper()
	startOnce.Do(func() { started, startErr = startServer() })
	if missing {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("pgtest: %v (%s=1: install Debian's postgresql package, as `make test` does)", startErr, RequireEnv)
		}
		tb.Skipf("pgtest: %v: install Debian's postgresql package (`make deps-test`) to run the PostgreSQL tests", startErr)
	}
	if startErr != nil {
		tb.Fatalf("pgtest: %v", startErr)
	}
	return started
}

// Stop shuts the server down and removes its folder. Call it from TestMain
// after m.Run; it does nothing if no test started a server.
func Stop() {
	if started == nil {
		return
	}
	started.stop()
	started = nil
}

// binDir finds the folder holding initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Highest major version first.
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// runAs returns the credential to run the server with: the postgres user
// when we are root (PostgreSQL refuses root), else nil (ourselves).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as (the postgresql package creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func startServer() (*server, error) {
	bin, err := binDir()
	if err != nil {
		missing = true
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to our user, and the server
	// runs as another.
	dir, err := os.MkdirTemp("", "ggufd-pgtest-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", superuser, "--auth=trust",
		"--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A port picked free can be taken before postgres binds it: try a few.
	for attempt := 0; ; attempt++ {
		s, err := launch(bin, dir, data, cred)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func launch(bin, dir, data string, cred *syscall.Credential) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, port: port, done: make(chan struct{}), logs: &syncBuffer{}}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+dir,
		"-c", "max_connections=300",
		"-c", "shared_buffers=32MB",
		"-c", "log_min_messages=warning")
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	// SIGQUIT (immediate shutdown) if the test process dies without Stop.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("postgres exited: %s", s.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			<-s.done
			return nil, fmt.Errorf("postgres did not accept connections within a minute: %s", s.logs.String())
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// stop asks for a fast shutdown (SIGINT: disconnect clients, no waiting),
// then kills the server if it lingers, and removes the folder.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// Logs returns what the server has printed, for a failing test's message.
func Logs() string {
	if started == nil {
		return ""
	}
	return strings.TrimSpace(started.logs.String())
}

// The forked run: a constructor that splits a `hako run` in two before the Go runtime exists.
//
// A run's container needs a monitor that outlives the command (package monitor): it keeps the
// container's output, reaps it and records its exit, even when the command is killed. hako used
// to start it as a second Go process (hako-monitor) beside the command. On this class of machine
// a Go process takes 13-20 ms to reach main, most of it page faults, and the two starts fought
// for the same two cores: the command reached its main 31 ms after its exec instead of 20.
//
// So the process the user started forks here, before either half has a Go runtime. The child,
// in a session of its own, goes on into Go: it parses the command line, creates the container
// and prints what the command prints (errors, warnings, the ID of a detached run), exactly as
// an unforked hako would, and then stays as the container's monitor (engine.InProcessMonitor).
// The parent, which the user's shell waits for, never starts Go: it forwards the signals a
// foreground run proxies (Docker's --sig-proxy) to the child, and exits with the code the child
// sends on a pipe once it knows it (the container's exit code, or 0 once a detached container
// runs), or, when the child ends without sending one (an error, --help), with the child's own
// exit status or signal.
//
// This file only guesses, from the command line, that the run is one the in-process monitor
// serves: -i and -t (whose stdin and terminal the command keeps serving) and flags it does not
// know are left unforked, as is a run given another monitor (HAKO_MONITOR_PATH) or with
// HAKO_RUN_FORK=off. The Go side (runfork.go) decides again with the parsed flags; a child
// that does not take the in-process monitor spawns one as an unforked hako does, and simply
// exits with its code.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runfork.h"

struct hako_runfork hako_runfork = {.exit = -1};
static int eq(const char *a, const char *b) { return strcmp(a, b) == 0; }

// value is the value of option name in argv[*i] ("--name=V" or "--name V"), advancing *i past
// it; NULL when argv[*i] is not that option or has no value.
static const char *value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != 0 || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

// run's flags that take a value (docker's spelling; cli.runFlags.register and ops_runflags.go).
static const char *const long_values[] = {"name", "user", "workdir", "hostname", "network", "memory", "cpus",
	"pids-limit", "stop-signal", "stop-timeout", "entrypoint", "env", "env-file", "label", "cap-add", "cap-drop",
	"security-opt", "ulimit", "volume", "mount", "tmpfs", "log-opt", "uidmap", "gidmap", "userns", "restart",
	"health-cmd", "health-interval", "health-timeout", "health-start-period", "health-start-interval",
	"health-retries", NULL};
static const char *const long_bools[] = {"rm", "privileged", "read-only", "init", "no-healthcheck", "check", "strict", NULL};
static const char short_values[] = "uwhmelv";

static int in(const char *const *list, const char *s, size_t n)
{
	for (; *list; list++)
		if (strlen(*list) == n && strncmp(*list, s, n) == 0)
			return 1;
	return 0;
}

// scan_run reads run's flags from argv[i]: 1 detached, 0 attached (without -i or -t), -1 not
// sure (-i, -t, a flag it does not know).
static int scan_run(int argc, char **argv, int i)
{
	int detached = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == 0 || eq(a, "--"))
			return detached; // the image
		if (a[1] == '-') {
			const char *name = a + 2, *eqs = strchr(name, '=');
			size_t n = eqs ? (size_t)(eqs - name) : strlen(name);
			if (n == 6 && strncmp(name, "detach", 6) == 0 && !eqs)
				detached = 1;
			else if (in(long_values, name, n)) {
				if (!eqs)
					i++;
			} else if (!(in(long_bools, name, n) && !eqs))
				return -1; // --interactive, --tty, --detach=..., --help, or one it does not know
			continue;
		}
		for (const char *c = a + 1; *c; c++) {
			if (*c == 'd')
				detached = 1;
			else if (strchr(short_values, *c)) {
				if (c[1] == 0)
					i++;
				break;
			} else
				return -1;
		}
	}
	return -1;
}

static pid_t child;

static void forward(int sig) { kill(child, sig); }

// The signals a foreground run proxies to its container (sigproxy.go's list).
static const int proxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

#define NPROXIED (sizeof(proxied) / sizeof(proxied[0]))

// wait_child is the whole parent: forward signals (blocked since before the fork, so that none
// is lost or kills the parent meanwhile), then exit as the run does.
static void __attribute__((noreturn)) wait_child(int rd, const sigset_t *mask)
{
	struct sigaction sa = {.sa_handler = forward}; // no SA_RESTART: read sees EINTR, and goes on
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < NPROXIED; k++)
		sigaction(proxied[k], &sa, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	char buf[16];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(rd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
		if (n == sizeof(buf) - 1 || memchr(buf, '\n', n))
			break;
	}
	buf[n] = 0;
	char *end;
	long code = strtol(buf, &end, 10);
	if (n > 0 && end != buf && *end == '\n' && code >= 0 && code <= 255)
		_exit(code); // the child goes on as the monitor
	// No code: the child ended (its output said why), or died.
	int st;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	if (WIFEXITED(st))
		_exit(WEXITSTATUS(st));
	int sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL;
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

// inherited lists the descriptors above stdio that the child has from whoever ran hako (a CI
// job's pipe, a shell's redirection or process substitution), but for keep. The command may
// still read them (--env-file /dev/fd/63); the monitor must not hold them (runfork.go).
static void inherited(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end || end == de->d_name || fd < 3 || fd == keep || fd == dirfd(d))
			continue;
		int *grown = realloc(hako_runfork.inherited, (hako_runfork.ninherited + 1) * sizeof(int));
		if (!grown)
			break;
		hako_runfork.inherited = grown;
		hako_runfork.inherited[hako_runfork.ninherited++] = fd;
	}
	closedir(d);
}

// The lean binary next to this one (hako-monitor, built from this package without the builder
// and the linters: cmd/hako-monitor), and the environment to execute it with: this one, and
// the parent's pipe in HAKO_RUN_CHILD=FD:PID, PID the parent's.
struct lean {
	char path[PATH_MAX + 16];
	char **envp;
};

// lean_prepare finds the lean binary and makes its environment, in the parent, for lean_spawn's
// child, which shares the parent's memory and must not allocate. It returns 0 if there is no
// lean binary, or with HAKO_RUN_LEAN=off (the child then goes on in this binary).
static int lean_prepare(struct lean *l, int exit_fd)
{
	extern char **environ;
	const char *mode = getenv("HAKO_RUN_LEAN");
	if (mode && eq(mode, "off"))
		return 0;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return 0;
	*slash = 0;
	if (snprintf(l->path, sizeof(l->path), "%s/hako-monitor", exe) >= (int)sizeof(l->path) || access(l->path, X_OK) < 0)
		return 0;
	static char var[64];
	snprintf(var, sizeof(var), "HAKO_RUN_CHILD=%d:%d", exit_fd, (int)getpid());
	size_t k = 0;
	while (environ[k])
		k++;
	if (!(l->envp = malloc((k + 2) * sizeof(char *))))
		return 0;
	size_t j = 0;
	for (size_t i = 0; i < k; i++)
		if (strncmp(environ[i], "HAKO_RUN_CHILD=", 15) != 0)
			l->envp[j++] = environ[i];
	l->envp[j++] = var;
	l->envp[j] = NULL;
	return 1;
}

// lean_spawn starts the child in the lean binary with vfork: the child shares this process's
// memory until its exec, so neither process copies the other's page tables nor faults in a
// copy of a page it writes (a fork and its copy-on-write cost ~1 ms on this VM's virtualised
// MMU before the child's exec). The child sets its signal mask back, leaves the terminal's
// session, keeps the pipe's write end across the exec, and execs; of the parent's memory it
// writes nothing but errno (thread-local, the parent's thread's: the parent reads it only
// after setting it). An exec that fails is reported on a close-on-exec pipe, as where vfork
// is a fork (an emulator): EOF there is the exec. It returns the child's PID, or -1 if the
// pipe, vfork or the exec failed (a child that failed to exec is reaped).
static pid_t lean_spawn(struct lean *l, char **argv, int exit_fd, const sigset_t *mask)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = vfork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, mask, NULL);
		setsid();
		if (fcntl(exit_fd, F_SETFD, 0) == 0)
			execve(l->path, argv, l->envp);
		int e = errno ? errno : EINVAL;
		(void)!write(ep[1], &e, sizeof(e));
		_exit(127);
	}
	close(ep[1]);
	int e = 0;
	ssize_t n = -1;
	if (pid > 0)
		while ((n = read(ep[0], &e, sizeof(e))) < 0 && errno == EINTR)
			;
	close(ep[0]);
	if (pid > 0 && n > 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

// adopt takes over as the forked child in the lean binary that lean_spawn executed: the
// parent's pipe is in HAKO_RUN_CHILD, as "FD:PID" with the waiting parent's PID. It returns
// whether it did; a variable that does not name a pipe of this process's parent (one a user
// set) is dropped, and the process goes on as any hako would.
static int adopt(void)
{
	const char *v = getenv("HAKO_RUN_CHILD");
	if (!v)
		return 0;
	char *end, *end2 = NULL;
	long fd = strtol(v, &end, 10), parent = *end == ':' ? strtol(end + 1, &end2, 10) : 0;
	unsetenv("HAKO_RUN_CHILD");
	struct stat st;
	if (end == v || *end != ':' || *end2 || fd < 3 || fd >= 1 << 20 || parent != getppid() ||
	    fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return 0;
	hako_runfork.exit = fd;
	inherited(fd);
	return 1;
}

__attribute__((constructor)) static void hako_run_fork(int argc, char **argv, char **envp)
{
	(void)envp;
	if (adopt())
		return;
	if (argc < 3)
		return;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) // the global flags that take a value, passed over
		if (!value(argc, argv, &i, "--root") && !value(argc, argv, &i, "--snapshotter"))
			return; // -D, or a flag it does not know
	if (i >= argc || !eq(argv[i], "run"))
		return; // cheap, in every other hako process
	const char *mode = getenv("HAKO_RUN_FORK"), *path = getenv("HAKO_MONITOR_PATH");
	if ((mode && eq(mode, "off")) || (path && *path))
		return;
	if (scan_run(argc, argv, i + 1) < 0)
		return;
	// A closed standard descriptor would be taken by the pipe, and Go would see a pipe where
	// it expects its stdio: leave such a run unforked.
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	sigset_t block, mask;
	sigemptyset(&block);
	for (size_t k = 0; k < NPROXIED; k++)
		sigaddset(&block, proxied[k]);
	sigprocmask(SIG_BLOCK, &block, &mask);
	struct lean lean;
	if (lean_prepare(&lean, p[1])) {
		child = lean_spawn(&lean, argv, p[1], &mask);
		free(lean.envp);
		if (child > 0) {
			close(p[1]);
			wait_child(p[0], &mask);
		}
	}
	// No lean binary (or it could not be executed): the child goes on in this one.
	child = fork();
	if (child <= 0)
		sigprocmask(SIG_SETMASK, &mask, NULL);
	if (child < 0) {
		close(p[0]), close(p[1]);
		return;
	}
	if (child == 0) {
		// Out of the terminal's session: its ^C reaches the parent, which forwards it.
		setsid();
		close(p[0]);
		hako_runfork.exit = p[1];
		inherited(p[1]);
		return;
	}
	close(p[1]);
	wait_child(p[0], &mask);
}

// hako_runfork_scan is scan_run for runfork.go's test: argv holds run's arguments only.
int hako_runfork_scan(int argc, char **argv) { return scan_run(argc, argv, 0); }

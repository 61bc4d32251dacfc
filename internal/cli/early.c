// The early monitor of `hako run`: a constructor that starts the container's monitor before the
// Go runtime of the command exists.
//
// A `run` spawns its monitor (package monitor) first and creates the container while the
// monitor's Go runtime starts: the monitor, not the creation, was then the longer of the two, by
// 6 to 9 ms of a 75 ms `run --rm busybox true`, because the command itself reaches its main
// only some 12 ms after its exec. Started from here, the monitor's start-up runs beside the
// command's own instead, and is done before the container is created.
//
// This file only guesses. It reads the command line as far as it must (the global flags, the
// verb, run's flags up to the image) and starts the monitor exactly as engine.SpawnMonitor
// would for the run it guesses: detached, or attached without stdin or a terminal (-i and -t are
// left to Go, which hands the monitor more descriptors). The Go side (early.go) adopts the
// monitor only if the run is that run: the same root, snapshotter, monitor executable and mode.
// Otherwise it closes the monitor's pipes and the monitor, which has not seen an ID, exits
// without touching anything; so does it when the command exits without adopting it (`run
// --help`, a bad flag). A wrong guess costs a process start, never a wrong container.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "early.h"

struct hako_early hako_early = {.ready = -1, .exit = -1, .id = -1, .pid = -1};

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

// monitor_path is engine.monitorExecutable: $HAKO_MONITOR_PATH, else hako-monitor beside this
// executable, else this executable.
static int monitor_path(char *out, size_t size)
{
	const char *env = getenv("HAKO_MONITOR_PATH");
	if (env && *env) // a relative one is looked up in PATH by Go: left to Go
		return env[0] == '/' && snprintf(out, size, "%s", env) < (int)size ? 0 : -1;
	char self[PATH_MAX];
	if (!realpath("/proc/self/exe", self))
		return -1;
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = 0;
	if (snprintf(out, size, "%s/hako-monitor", self) >= (int)size)
		return -1;
	if (access(out, X_OK) == 0)
		return 0;
	*slash = '/';
	return snprintf(out, size, "%s", self) < (int)size ? 0 : -1;
}

static int high(int fd) { return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 100); }

__attribute__((constructor)) static void hako_early_monitor(int argc, char **argv, char **envp)
{
	if (argc < 3)
		return;
	// A closed standard descriptor would be taken by a pipe below, and Go would then see a
	// pipe where it reopens /dev/null: leave such a run to Go.
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return;
	const char *root = getenv("HAKO_ROOT"), *snap = getenv("HAKO_SNAPSHOTTER"), *v;
	if (!root || !*root)
		root = "/var/lib/hako";
	if (!snap)
		snap = "";
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((v = value(argc, argv, &i, "--root")))
			root = v;
		else if ((v = value(argc, argv, &i, "--snapshotter")))
			snap = v;
		else
			return; // -D (whose debug output Go sets up later) or a flag it does not know
	}
	if (!*root)
		return; // Go refuses an empty root: the monitor must not make a store in the cwd
	if (i >= argc || !eq(argv[i], "run"))
		return; // cheap, in every other hako process
	const char *mode = getenv("HAKO_EARLY_MONITOR");
	if (mode && eq(mode, "off"))
		return;
	int detached = scan_run(argc, argv, i + 1);
	if (detached < 0)
		return;
	struct hako_early *e = &hako_early;
	if (root[0] == '/') {
		if (snprintf(e->root, sizeof(e->root), "%s", root) >= (int)sizeof(e->root))
			return;
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) || snprintf(e->root, sizeof(e->root), "%s/%s", cwd, root) >= (int)sizeof(e->root))
			return;
	}
	if (snprintf(e->snapshotter, sizeof(e->snapshotter), "%s", snap) >= (int)sizeof(e->snapshotter) ||
	    monitor_path(e->path, sizeof(e->path)) < 0)
		return;

	// The descriptors of engine.SpawnMonitor, in its order (package monitor): 3 ready, 4 exit,
	// attached 5 and 6 our stdout and stderr, then the ID pipe. Made high first, so that no
	// target is a source.
	int r[2], x[2], d[2];
	if (pipe2(r, O_CLOEXEC) < 0)
		return;
	if (pipe2(x, O_CLOEXEC) < 0)
		goto close_r;
	if (pipe2(d, O_CLOEXEC) < 0)
		goto close_x;
	int src[5] = {high(r[1]), high(x[1]), detached ? high(d[0]) : high(1), detached ? -1 : high(2), detached ? -1 : high(d[0])};
	int nsrc = detached ? 3 : 5, ok = 1;
	for (int k = 0; k < nsrc; k++)
		ok = ok && src[k] >= 0;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	const char *debug = getenv("HAKO_DEBUG");
	int err = debug && *debug ? high(2) : high(null);
	char *args[] = {e->path, "--root", e->root, "--snapshotter", e->snapshotter, "__monitor",
		detached ? "--" : "--attach", detached ? MONITOR_PLACEHOLDER : "--", detached ? NULL : MONITOR_PLACEHOLDER, NULL};
	pid_t pid = -1;
	if (ok && null >= 0 && err >= 0)
		pid = vfork();
	if (pid == 0) {
		// As exec.Cmd with Setsid and Dir "/": stdin and stdout /dev/null, stderr the debug
		// stream or /dev/null, the handoff on 3 and up, nothing else.
		setsid();
		if (chdir("/") < 0)
			_exit(127);
		dup2(null, 0), dup2(null, 1), dup2(err, 2);
		for (int k = 0; k < nsrc; k++)
			dup2(src[k], 3 + k);
		if (syscall(SYS_close_range, 3 + nsrc, ~0U, 0) < 0) // before Linux 5.9
			for (int fd = 3 + nsrc; fd < 1024; fd++)
				close(fd);
		execve(e->path, args, envp);
		e->exec_errno = errno; // the parent's memory (vfork): it sees the failure
		_exit(127);
	}
	for (int k = 0; k < nsrc; k++)
		if (src[k] >= 0)
			close(src[k]);
	if (null >= 0)
		close(null);
	if (err >= 0)
		close(err);
	close(d[0]), close(x[1]), close(r[1]);
	if (pid > 0 && e->exec_errno) { // no monitor: Go spawns one, and says why if it fails too
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	if (pid < 0) {
		close(d[1]);
		goto close_x_r;
	}
	e->ready = r[0], e->exit = x[0], e->id = d[1], e->pid = pid, e->detached = detached;
	return;
close_x:
	close(x[0]), close(x[1]);
close_r:
	close(r[0]), close(r[1]);
	return;
close_x_r:
	close(x[0]), close(r[0]);
}

// hako_early_scan is scan_run for early.go's test: argv holds run's arguments only.
int hako_early_scan(int argc, char **argv) { return scan_run(argc, argv, 0); }

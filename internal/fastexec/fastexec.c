// The C path of `hako exec` (docs/exec.md): a constructor that runs before the Go runtime
// exists, enters a running container the way libcontainer's setns init does, and execs the
// user's command, so that a plain exec costs a few milliseconds instead of two Go start-ups.
//
// Four processes take part, all of them this binary:
//
//   P  the user's `hako exec`. It parses the command line, finds the container's exec profile
//      (written by the container's monitor, package runtime), checks that the container runs
//      and is not paused, opens a sealed copy of this binary (a read-only, detached overlayfs of
//      its directory, as libcontainer's exeseal does), starts C, and then stays on the host: it
//      copies the command's stdout and stderr from pipes to its own (the host's descriptors
//      never reach the container) and exits with the command's code. Whenever P is not sure it can do what the Go path would, it returns from the
//      constructor and the Go path runs as if this file did not exist: the C path never decides
//      an error about the container.
//   C  P's child (CLONE_VM|CLONE_VFORK, as posix_spawn), not dumpable, re-executes itself from the sealed copy with `__fastexec` as its
//      verb (C'), with nothing of P's environment but what the command line needs.
//   C' still in the host's PID namespace, so that no process of the container can see it,
//      joins the cgroups and the namespaces (user first, mount last but one, PID for its
//      children) and starts the final process (CLONE_VM|CLONE_VFORK too), then exits; P, a
//      child subreaper, adopts it.
//   C'' the first process the container can see, already in its mount namespace (its root,
//      its cwd, no descriptor of the host's but its stdio pipes): it sets the keyring,
//      no_new_privs, seccomp filter, capabilities, user and working directory in libcontainer's
//      order, looks the command up with Go's exec.LookPath rules and execs it. This is
//      nsexec's shape (runc's stage-2 is forked after the joins). Until the exec, C' and C''
//      report any failure on a pipe that the exec closes, and P prints it in the Go path's
//      words.
//
// Why the re-execution: until its final execve, the process that enters the container has
// this binary as /proc/self/exe. A container whose command is a link to /proc/self/exe, or a
// script with #!/proc/self/exe, would make the kernel execute that binary inside the container,
// and a process of the container could then write the host's hako through /proc/PID/exe
// (CVE-2019-5736). From the sealed copy it finds a file on a read-only mount instead.
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastexec.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

#define STAGE_VERB "__fastexec"
#define MAX_LIST HAKO_MAX_LIST
#define PROFILE_MAX (4 << 20)

// ---- the request: the command line the C path takes --------------------------------------

struct request {
	const char *root;      // --root, HAKO_ROOT, or /var/lib/hako
	const char *ref;       // the container, as given
	const char *workdir;   // -w, or NULL
	int interactive;       // -i
	int detach;            // -d
	int privileged;        // --privileged
	char *env[MAX_LIST];   // -e, resolved to KEY=VALUE, in order
	int nenv;
	char **cmd;            // the command and its arguments
	int ncmd;
};


static const char *why; // why the C path hands over to Go (for HAKO_EXEC_PATH=c)

static int eq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

// clean_abs tells whether p is what Go's filepath.Clean leaves of an absolute path.
int hako_clean_abs(const char *p)
{
	if (p[0] != '/')
		return 0;
	if (eq(p, "/"))
		return 1;
	size_t n = strlen(p);
	if (p[n - 1] == '/')
		return 0;
	for (const char *s = p; *s; s++) {
		if (*s != '/')
			continue;
		const char *e = s + 1;
		if (*e == '/')
			return 0;
		if (e[0] == '.' && (e[1] == '/' || e[1] == 0))
			return 0;
		if (e[0] == '.' && e[1] == '.' && (e[2] == '/' || e[2] == 0))
			return 0;
	}
	return 1;
}

// parse_request reads the command line (argv[1:]) the way cobra would for the forms the C path
// takes. It returns 1 for those, -1 when the verb is not exec, and 0 for an exec the Go path
// must parse (with why set).
static int parse_request(int argc, char **argv, struct request *r)
{
	memset(r, 0, sizeof(*r));
	const char *env_root = getenv("HAKO_ROOT");
	r->root = env_root && *env_root ? env_root : "/var/lib/hako";
	int i = 0, seen_exec = 0;
	while (i < argc) {
		const char *a = argv[i];
		if (!seen_exec && eq(a, "exec")) {
			seen_exec = 1;
			i++;
			continue;
		}
		if (a[0] != '-' || eq(a, "-")) {
			if (!seen_exec)
				return -1; // another verb
			break;
		}
		if (eq(a, "--")) {
			if (!seen_exec) {
				why = "\"--\" before the verb";
				return 0;
			}
			i++;
			break;
		}
		if (eq(a, "--root") || eq(a, "--snapshotter")) {
			if (i + 1 >= argc) {
				why = "a flag without its value";
				return 0;
			}
			if (eq(a, "--root"))
				r->root = argv[i + 1];
			i += 2;
			continue;
		}
		if (has_prefix(a, "--root=")) {
			r->root = a + 7;
			i++;
			continue;
		}
		if (has_prefix(a, "--snapshotter=")) {
			i++;
			continue;
		}
		if (!seen_exec) {
			why = "a global flag it does not know";
			return 0;
		}
		if (eq(a, "-d") || eq(a, "--detach")) {
			r->detach = 1;
			i++;
			continue;
		}
		if (eq(a, "-i") || eq(a, "--interactive")) {
			r->interactive = 1;
			i++;
			continue;
		}
		if (eq(a, "--privileged")) {
			r->privileged = 1;
			i++;
			continue;
		}
		const char *val = NULL;
		int wd = 0; // -w, else -e
		if (eq(a, "-e") || eq(a, "--env") || eq(a, "-w") || eq(a, "--workdir")) {
			if (i + 1 >= argc) {
				why = "a flag without its value";
				return 0;
			}
			wd = eq(a, "-w") || eq(a, "--workdir");
			val = argv[i + 1];
			i += 2;
		} else if (has_prefix(a, "--env=")) {
			val = a + 6, i++;
		} else if (has_prefix(a, "--workdir=")) {
			wd = 1, val = a + 10, i++;
		} else {
			why = "a flag only the Go path takes (-t, -u, --env-file, combined or unknown flags)";
			return 0;
		}
		if (wd) {
			if (!hako_clean_abs(val)) {
				why = "a working directory that is not a clean absolute path";
				return 0;
			}
			r->workdir = val;
			continue;
		}
		if (val[0] == '=' || val[0] == 0) {
			why = "an -e without a variable name";
			return 0;
		}
		if (r->nenv >= MAX_LIST) {
			why = "too many -e";
			return 0;
		}
		if (strchr(val, '=')) {
			r->env[r->nenv++] = (char *)val;
		} else {
			const char *v = getenv(val); // -e KEY takes the host's value, or nothing
			if (!v)
				continue;
			char *kv = malloc(strlen(val) + strlen(v) + 2);
			if (!kv)
				return 0;
			sprintf(kv, "%s=%s", val, v);
			r->env[r->nenv++] = kv;
		}
	}
	if (!seen_exec)
		return -1;
	if (argc - i < 2 || argv[i + 1][0] == 0) {
		why = "no container or no command";
		return 0;
	}
	r->ref = argv[i];
	if (r->ref[0] == '/')
		r->ref++;
	if (!r->ref[0]) {
		why = "an empty container reference";
		return 0;
	}
	r->cmd = argv + i + 1;
	r->ncmd = argc - i - 1;
	return 1;
}

// ---- small I/O helpers ---------------------------------------------------------------------

static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n < cap) {
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		n += k;
	}
	return n;
}

int hako_write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) { // a non-blocking stdout or stderr of our caller's
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, -1);
			continue;
		}
		if (k < 0)
			return -1;
		buf += k, n -= k;
	}
	return 0;
}

// read_small reads a small file (a /proc or cgroup file, a record's head) into buf, NUL-ended.
ssize_t hako_read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	ssize_t n = read_all(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

static int is_hex64(const char *s)
{
	int n = 0;
	for (; *s; s++, n++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return n == 64;
}

// ---- the profile ---------------------------------------------------------------------------

static int parse_u64(const char *s, unsigned long long *out, int base)
{
	char *end;
	if (!*s)
		return -1;
	errno = 0;
	*out = strtoull(s, &end, base);
	return errno || *end ? -1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hako_profile_begin(struct profile *p, const char *buf, size_t n)
{
	memset(p, 0, sizeof(*p));
	if (n == 0 || buf[n - 1] != 0)
		return -1;
	p->env = calloc(n / 2 + 1, sizeof(char *));
	return p->env ? 0 : -1;
}

int hako_profile_entry(struct profile *p, const char *e, char *v)
{
	unsigned long long x;
	if (eq(e, "id")) {
		p->id = v;
	} else if (eq(e, "pid")) {
		if (parse_u64(v, &x, 10) || x == 0 || x > INT_MAX)
			return -1;
		p->pid = (long)x, p->have_pid = 1;
	} else if (eq(e, "start")) {
		if (parse_u64(v, &p->start, 10))
			return -1;
		p->have_start = 1;
	} else if (eq(e, "ns")) {
		char *c = strchr(v, ':');
		if (!c || p->nns >= 16)
			return -1;
		*c = 0;
		p->ns_type[p->nns] = v, p->ns_path[p->nns++] = c + 1;
	} else if (eq(e, "cgroup")) {
		if (p->ncgroups >= 64)
			return -1;
		p->cgroups[p->ncgroups++] = v;
	} else if (eq(e, "freezer")) {
		p->freezer = v;
	} else if (eq(e, "uid")) {
		if (parse_u64(v, &x, 10) || x > UINT32_MAX)
			return -1;
		p->uid = x, p->have_uid = 1;
	} else if (eq(e, "gid")) {
		if (parse_u64(v, &x, 10) || x > UINT32_MAX)
			return -1;
		p->gid = x, p->have_gid = 1;
	} else if (eq(e, "groups")) {
		for (char *g = v; *g;) {
			char *c = strchr(g, ',');
			if (c)
				*c = 0;
			if (parse_u64(g, &x, 10) || x > UINT32_MAX || p->ngroups >= MAX_LIST)
				return -1;
			p->groups[p->ngroups++] = (gid_t)x;
			if (!c)
				break;
			g = c + 1;
		}
	} else if (eq(e, "cwd")) {
		p->cwd = v;
	} else if (eq(e, "env")) {
		p->env[p->nenv++] = v;
	} else if (eq(e, "nnp")) {
		p->nnp = eq(v, "1");
	} else if (eq(e, "caps")) {
		char *s = v;
		for (int k = 0; k < 5; k++) {
			char *c = strchr(s, ',');
			if ((k < 4) != (c != NULL))
				return -1;
			if (c)
				*c = 0;
			if (parse_u64(s, &x, 16))
				return -1;
			p->caps[k] = x;
			s = c ? c + 1 : s;
		}
		p->have_caps = 1;
	} else if (eq(e, "rlimit")) {
		unsigned long long res, soft, hard;
		if (p->nrlimits >= 32 || sscanf(v, "%llu,%llu,%llu", &res, &soft, &hard) != 3)
			return -1;
		p->rlimits[p->nrlimits].res = (int)res;
		p->rlimits[p->nrlimits].soft = soft;
		p->rlimits[p->nrlimits++].hard = hard;
	} else if (eq(e, "oom")) {
		p->has_oom = 1, p->oom = atoi(v);
	} else if (eq(e, "keyring")) {
		p->keyring = v;
	} else if (eq(e, "seccomp")) {
		char *c = strchr(v, ':');
		if (!c)
			return -1;
		*c++ = 0;
		if (parse_u64(v, &x, 10))
			return -1;
		p->seccomp_flags = (unsigned)x;
		size_t h = strlen(c);
		if (h == 0 || h % 16 || h / 16 > 65535)
			return -1;
		p->nfilter = h / 16;
		unsigned char *b = malloc(h / 2);
		if (!b)
			return -1;
		for (size_t k = 0; k < h / 2; k++) {
			int hi = hexval(c[2 * k]), lo = hexval(c[2 * k + 1]);
			if (hi < 0 || lo < 0)
				return -1;
			b[k] = hi << 4 | lo;
		}
		p->filter = (struct sock_filter *)b; // little-endian on the machines hako runs on
		p->has_seccomp = 1;
	} else {
		return 0;
	}
	return 1;
}

// parse_profile reads the NUL-separated entries of buf[0:n], an exec profile. Strings point
// into buf.
static int parse_profile(char *buf, size_t n, struct profile *p)
{
	if (hako_profile_begin(p, buf, n) < 0)
		return -1;
	int first = 1;
	for (char *e = buf, *next; e < buf + n; e = next) {
		next = e + strlen(e) + 1; // before the entry is cut at its '='
		char *v = strchr(e, '=');
		if (!v)
			return -1;
		*v++ = 0;
		if (first) {
			if (!eq(e, "v") || !eq(v, "1"))
				return -1;
			first = 0;
		} else if (hako_profile_entry(p, e, v) < 0) {
			return -1;
		}
		// Unknown keys are ignored: a newer writer may add some.
	}
	if (first || !p->id || !p->have_pid || !p->have_start || !p->have_caps || !p->have_uid || !p->have_gid || !p->cwd || !p->freezer)
		return -1;
	return 0;
}

// proc_start reads the state and start time (fields 3 and 22) of /proc/PID/stat.
static int proc_start(long pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (hako_read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	char *s = strrchr(buf, ')');
	if (!s || s[1] != ' ')
		return -1;
	s += 2;
	*state = *s;
	// Fields 3.. follow the command; the start time is the 22nd field in all.
	for (int f = 3; f < 22; f++) {
		s = strchr(s, ' ');
		if (!s)
			return -1;
		s++;
	}
	*start = strtoull(s, NULL, 10);
	return 0;
}

// ---- P: find the container ------------------------------------------------------------------

// record_name reads the name in the container record of id into name: a record is written by
// encoding/json with ID and Name first (container.Container), so its head is
// {"ID":"<id>","Name":"<name>", and a name holds no character JSON escapes. It returns 0, -1
// for a record that is missing or empty (a container being created or removed, which
// container.List skips too), and -2 for a record of another shape.
static int record_name(const char *root, const char *id, char *name, size_t cap)
{
	char path[PATH_MAX], head[640], want[128];
	if (snprintf(path, sizeof(path), "%s/containers/%s/container.json", root, id) >= (int)sizeof(path))
		return -2;
	snprintf(want, sizeof(want), "{\"ID\":\"%s\",\"Name\":\"", id);
	ssize_t n = hako_read_small(path, head, sizeof(head));
	if (n <= 0)
		return -1;
	size_t w = strlen(want);
	if ((size_t)n < w || memcmp(head, want, w) != 0)
		return -2;
	char *q = strchr(head + w, '"');
	if (!q || memchr(head + w, '\\', q - (head + w)) || (size_t)(q - (head + w)) >= cap)
		return -2;
	memcpy(name, head + w, q - (head + w));
	name[q - (head + w)] = 0;
	return 0;
}

static int profile_path(char *out, size_t cap, const char *root, const char *id)
{
	return snprintf(out, cap, "%s/runtime/%s/hako-exec.conf", root, id) < (int)cap ? 0 : -1;
}

static int is_hex_prefix(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

// find_container sets id to the container ref names, as container.Store.Get resolves it: a
// full ID; else the container of that name, among all; else the one ID with that prefix.
// Names are looked up among the running containers first (those with a profile: few records
// to read), and among all the records only for a ref that could be an ID prefix. Anything it
// cannot settle is left to Go.
static int find_container(const struct request *r, char id[65])
{
	char path[PATH_MAX], name[256], dir[PATH_MAX];
	if (is_hex64(r->ref)) {
		strcpy(id, r->ref);
		return 0;
	}
	if (snprintf(dir, sizeof(dir), "%s/runtime", r->root) >= (int)sizeof(dir))
		return -1;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *de;
	int found = -1;
	while ((de = readdir(d))) {
		if (!is_hex64(de->d_name))
			continue;
		if (profile_path(path, sizeof(path), r->root, de->d_name) || access(path, F_OK))
			continue;
		if (record_name(r->root, de->d_name, name, sizeof(name)) == 0 && eq(name, r->ref)) {
			strcpy(id, de->d_name);
			found = 0;
			break;
		}
	}
	closedir(d);
	if (found == 0 || !is_hex_prefix(r->ref))
		return found;

	// An ID prefix, unless some container (a stopped one, by now) has it for its name.
	snprintf(dir, sizeof(dir), "%s/containers", r->root);
	if (!(d = opendir(dir)))
		return -1;
	int matches = 0;
	while ((de = readdir(d))) {
		if (!is_hex64(de->d_name))
			continue;
		int rc = record_name(r->root, de->d_name, name, sizeof(name));
		if (rc == -1)
			continue;
		if (rc == -2 || eq(name, r->ref)) {
			matches = -1;
			break;
		}
		if (has_prefix(de->d_name, r->ref) && matches++ == 0)
			strcpy(id, de->d_name);
	}
	closedir(d);
	return matches == 1 ? 0 : -1;
}

// monitor_alive: the container's monitor holds monitor.lock while it lives (package container);
// a container whose monitor died is not running for hako, whatever its processes do. The lock
// is asked for shared, as readers in Go ask (lockfile.TryShared): readers do not take one
// another for a monitor.
static int monitor_alive(const char *root, const char *id)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/containers/%s/monitor.lock", root, id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int alive = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd); // releases the lock if we took it
	return alive;
}

// running checks that the profile's init is the container's, alive and not frozen.
static int running(const struct profile *p)
{
	char state, buf[64];
	unsigned long long start;
	if (proc_start(p->pid, &state, &start) < 0 || start != p->start || state == 'Z' || state == 'X') {
		why = "the container's init is gone";
		return 0;
	}
	if (hako_read_small(p->freezer, buf, sizeof(buf)) < 0) {
		why = "no freezer state";
		return 0;
	}
	if (!(has_prefix(buf, "THAWED") || eq(buf, "0\n") || eq(buf, "0"))) {
		why = "the container is paused";
		return 0;
	}
	return 1;
}

// ---- P: the sealed copy of this binary --------------------------------------------------------

static void escape_lowerdir(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 2 < cap; in++) {
		if (*in == ':' || *in == '\\' || *in == ',')
			out[o++] = '\\';
		out[o++] = *in;
	}
	out[o] = 0;
}

// sealed_overlay opens this binary through a read-only, detached overlay of its directory: a
// process that reaches it through /proc/PID/exe cannot write it (EROFS). The second lower
// layer (overlayfs needs two without an upper one) is an empty-of-"hako" directory of ours.
static int sealed_overlay(const char *dummy)
{
	char exe[PATH_MAX], lower[4 * PATH_MAX + 8], a[2 * PATH_MAX], b[2 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash || slash == exe)
		return -1;
	*slash = 0;
	const char *name = slash + 1;
	escape_lowerdir(exe, a, sizeof(a));
	escape_lowerdir(dummy, b, sizeof(b));
	snprintf(lower, sizeof(lower), "%s:%s", a, b);
	int fs = syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	int mnt = -1, fd = -1;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0)
		goto out;
	syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "xino", "off", 0);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto out;
	mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	if (mnt < 0)
		goto out;
	fd = openat(mnt, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
out:
	if (mnt >= 0)
		close(mnt);
	close(fs);
	return fd;
}

#ifdef MFD_EXEC
#define HAKO_MFD_EXEC MFD_EXEC
#else
#define HAKO_MFD_EXEC 0x0010U
#endif

// sealed_memfd copies this binary into a sealed memfd (no write, grow or shrink, seals sealed):
// what libcontainer's exeseal falls back to when overlayfs refuses. It costs a copy of the
// binary per start, so it is only the fallback.
static int sealed_memfd(void)
{
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -1;
	struct stat st;
	int fd = -1;
	if (fstat(src, &st) < 0)
		goto out;
	// MFD_EXEC (Linux 6.3), as libcontainer asks for it: under vm.memfd_noexec=1 a memfd is
	// not executable without it. An older kernel refuses the flag (EINVAL).
	fd = memfd_create("hako (sealed)", MFD_CLOEXEC | MFD_ALLOW_SEALING | HAKO_MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("hako (sealed)", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		goto out;
	for (off_t off = 0; off < st.st_size;) {
		ssize_t n = sendfile(fd, src, &off, st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			fd = -1;
			goto out;
		}
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		close(fd);
		fd = -1;
	}
out:
	close(src);
	return fd;
}

// hako_sealed_self opens a copy of this binary that no process can write: the overlay above,
// else the memfd. overlayfs refuses layers that overlap (ELOOP), which they do when the store
// (where dummy lives) is under the binary's directory, say a root of /opt/hako/root for
// /opt/hako/hako; or it may be missing.
int hako_sealed_self(const char *dummy)
{
	int fd = sealed_overlay(dummy);
	return fd >= 0 ? fd : sealed_memfd();
}

// ---- P: the parent on the host ----------------------------------------------------------------

// copy_loop copies the child's stdout and stderr to ours, and with -i our stdin to the child's,
// until both outputs reach EOF (as exec.Cmd.Wait waits for its copying goroutines).
static void copy_loop(int out, int err, int in_w)
{
	char buf[65536], inbuf[65536];
	size_t inlen = 0, inoff = 0;
	int stdin_open = in_w >= 0;
	while (out >= 0 || err >= 0) {
		struct pollfd fds[4];
		int n = 0, io = -1, ie = -1, ii = -1, iw = -1;
		if (out >= 0)
			fds[io = n++] = (struct pollfd){.fd = out, .events = POLLIN};
		if (err >= 0)
			fds[ie = n++] = (struct pollfd){.fd = err, .events = POLLIN};
		if (stdin_open && inlen == inoff)
			fds[ii = n++] = (struct pollfd){.fd = 0, .events = POLLIN};
		if (in_w >= 0 && inlen > inoff)
			fds[iw = n++] = (struct pollfd){.fd = in_w, .events = POLLOUT};
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		int *srcs[2] = {&out, &err};
		int idx[2] = {io, ie};
		for (int k = 0; k < 2; k++) {
			if (idx[k] < 0 || !fds[idx[k]].revents)
				continue;
			ssize_t r = read(*srcs[k], buf, sizeof(buf));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				close(*srcs[k]);
				*srcs[k] = -1;
				continue;
			}
			if (hako_write_all(k == 0 ? 1 : 2, buf, r) < 0 && errno == EPIPE) {
				signal(SIGPIPE, SIG_DFL); // as a Go program writing to a closed stdout does
				raise(SIGPIPE);
			}
		}
		if (ii >= 0 && fds[ii].revents) {
			ssize_t r = read(0, inbuf, sizeof(inbuf));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				stdin_open = 0;
				close(in_w);
				in_w = -1;
			} else {
				inlen = r, inoff = 0;
			}
		}
		if (iw >= 0 && fds[iw].revents) {
			ssize_t w = write(in_w, inbuf + inoff, inlen - inoff);
			if (w < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (w < 0) { // the process closed its stdin: stop feeding it
				close(in_w);
				in_w = -1, stdin_open = 0, inlen = inoff = 0;
			} else {
				inoff += w;
				if (inoff == inlen)
					inlen = inoff = 0;
			}
		}
	}
	if (in_w >= 0)
		close(in_w);
}

int hako_cloexec(int fd, int on)
{
	int f = fcntl(fd, F_GETFD);
	if (f < 0)
		return -1;
	return fcntl(fd, F_SETFD, on ? f | FD_CLOEXEC : f & ~FD_CLOEXEC);
}

// close_except_3 closes every descriptor from 3 up except a, b and c, or returns -1.
static int close_except_3(int a, int b, int c)
{
	int keep[3] = {a, b, c};
	for (int i = 0; i < 3; i++) // sort the three
		for (int j = i + 1; j < 3; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	unsigned int from = 3;
	for (int i = 0; i < 3; i++) {
		if (keep[i] >= (int)from + 1 && syscall(SYS_close_range, from, keep[i] - 1, 0) < 0)
			return -1;
		if (keep[i] + 1 > (int)from)
			from = keep[i] + 1;
	}
	return syscall(SYS_close_range, from, ~0U, 0) < 0 ? -1 : 0;
}

// handover returns to the Go path, or with HAKO_EXEC_PATH=c fails saying why.
static void handover(void)
{
	const char *mode = getenv("HAKO_EXEC_PATH");
	if (mode && eq(mode, "c")) {
		fprintf(stderr, "Error: exec: the C path was not taken: %s\n", why ? why : "unknown reason");
		fflush(stderr);
		_exit(125);
	}
}

struct child_args {
	int in, out, err; // the process's stdin, stdout and stderr
	int errw, pfd, seal;
	char **argv, **envp;
	const char *id;
};

// child_main is C: stdio onto 0, 1, 2, the error pipe and the profile kept for C', nothing
// else, and the sealed copy executed. It runs on its own stack in our memory, so it only makes
// system calls until it execs or exits.
static int child_main(void *arg)
{
	struct child_args *a = arg;
	if (dup2(a->in, 0) < 0 || dup2(a->out, 1) < 0 || dup2(a->err, 2) < 0)
		_exit(125);
	if (hako_cloexec(a->errw, 0) < 0 || hako_cloexec(a->pfd, 0) < 0)
		_exit(125);
	// Nothing else of the host goes on: descriptors this hako inherited from its caller would
	// otherwise stay open while C' joins the container (CVE-2024-21626 class).
	const char *what = "close the caller's descriptors";
	if (close_except_3(a->errw, a->pfd, a->seal) == 0) {
		what = "re-execute the sealed binary";
		syscall(SYS_execveat, a->seal, "", a->argv, a->envp, AT_EMPTY_PATH);
	}
	char msg[256];
	int m = snprintf(msg, sizeof(msg), "125\nexec in container %s: %s: %s", a->id, what, strerror(errno));
	hako_write_all(a->errw, msg, m);
	_exit(125);
}

static void parent(int argc, char **argv, char **envp)
{
	struct request r;
	int ours = parse_request(argc - 1, argv + 1, &r);
	if (ours < 0)
		return;
	if (ours == 0)
		return handover();
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			why = "a standard descriptor is closed";
			return handover();
		}
	char id[65], path[PATH_MAX];
	if (find_container(&r, id) < 0) {
		why = "no container of that full ID, name or unique ID prefix";
		return handover();
	}
	if (profile_path(path, sizeof(path), r.root, id) < 0)
		return handover();
	int pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0) {
		why = "the container has no exec profile";
		return handover();
	}
	char *buf = malloc(PROFILE_MAX);
	ssize_t n = buf ? read_all(pfd, buf, PROFILE_MAX) : -1;
	struct profile p;
	if (n <= 0 || n == PROFILE_MAX || parse_profile(buf, n, &p) < 0 || !eq(p.id, id)) {
		why = "an exec profile it cannot read";
		close(pfd);
		return handover();
	}
	if (!running(&p) || !monitor_alive(r.root, id)) {
		if (!why)
			why = "the container's monitor is gone";
		close(pfd);
		return handover();
	}
	char dummy[PATH_MAX];
	snprintf(dummy, sizeof(dummy), "%s/runtime/%s", r.root, id);
	int seal = hako_sealed_self(dummy);
	if (seal < 0) {
		why = "no sealed copy of the binary";
		close(pfd);
		return handover();
	}
	// CLOSE_RANGE_CLOEXEC (Linux 5.11) is what keeps the host's descriptors out; without it,
	// or where a seccomp policy around hako denies it, the Go path.
	if (syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		why = "no close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11)";
		close(pfd), close(seal);
		return handover();
	}
	// A cgroup v2 directory with controllers for sub-cgroups takes no process (EBUSY);
	// libcontainer then puts the exec in the init's own cgroup, which is Go's to do.
	for (int k = 0; k < p.ncgroups; k++) {
		char sc[PATH_MAX], val[256];
		snprintf(sc, sizeof(sc), "%s/cgroup.subtree_control", p.cgroups[k]);
		if (hako_read_small(sc, val, sizeof(val)) > 0 && val[0] != '\n') {
			why = "the container's cgroup has sub-cgroups";
			close(pfd), close(seal);
			return handover();
		}
	}

	// From here on the C path owns the exec: errors are reported, never handed over.
	if (r.detach)
		r.interactive = 0; // as the Go path: exec -d never reads stdin
	int errp[2], outp[2], errpipe[2], inp[2] = {-1, -1};
	if (pipe2(errp, O_CLOEXEC) || pipe2(outp, O_CLOEXEC) || pipe2(errpipe, O_CLOEXEC) ||
	    (r.interactive && pipe2(inp, O_CLOEXEC))) {
		fprintf(stderr, "Error: exec in container %s: pipe: %s\n", id, strerror(errno));
		_exit(125);
	}
	int devnull = -1;
	if (!r.interactive && (devnull = open("/dev/null", (r.detach ? O_RDWR : O_RDONLY) | O_CLOEXEC)) < 0) {
		fprintf(stderr, "Error: exec in container %s: open /dev/null: %s\n", id, strerror(errno));
		_exit(125);
	}
	// Never reached by the container (C and C' are in the host's PID namespace); not dumpable
	// all the same. The subreaper adopts C'' when C' exits.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (inp[1] >= 0) // never block on a process that does not read its stdin (copy_loop)
		fcntl(inp[1], F_SETFL, fcntl(inp[1], F_GETFL) | O_NONBLOCK);
	// C' gets no environment but what its command line needs: HAKO_ROOT, and the host's
	// values of `-e KEY`. The rest of ours (a user's tokens, say) stays here.
	int nall = 0;
	while (envp[nall])
		nall++;
	char **nenvp = calloc(nall + 1, sizeof(char *));
	int ne = 0;
	if (nenvp) {
		for (char **e = envp; *e; e++) {
			size_t k = strcspn(*e, "=");
			int want = strncmp(*e, "HAKO_ROOT=", 10) == 0;
			for (int j = 1; !want && j < argc; j++)
				want = strncmp(argv[j], *e, k) == 0 && argv[j][k] == 0 && (*e)[k] == '=';
			if (want)
				nenvp[ne++] = *e;
		}
	}
	char efd[16], pfds[16];
	snprintf(efd, sizeof(efd), "%d", errp[1]);
	snprintf(pfds, sizeof(pfds), "%d", pfd);
	char **nargv = calloc(argc + 5, sizeof(char *));
	size_t stack_size = 64 << 10;
	char *stack = malloc(stack_size);
	if (!nargv || !stack || !nenvp) {
		fprintf(stderr, "Error: exec in container %s: out of memory\n", id);
		_exit(125);
	}
	nargv[0] = argv[0];
	nargv[1] = STAGE_VERB;
	nargv[2] = efd;
	nargv[3] = pfds;
	for (int k = 1; k < argc; k++)
		nargv[3 + k] = argv[k];
	struct child_args ca = {
		// exec -d: /dev/null for all three, as the Go path's; P does not stay.
		.in = r.interactive ? inp[0] : devnull, .out = r.detach ? devnull : outp[1], .err = r.detach ? devnull : errpipe[1],
		.errw = errp[1], .pfd = pfd, .seal = seal, .argv = nargv, .envp = nenvp, .id = id,
	};
	// C shares our memory until it re-executes (CLONE_VM|CLONE_VFORK, as posix_spawn): no
	// copy of the page tables, on its own stack, while we wait.
	pid_t child = clone(child_main, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
	if (child < 0) {
		fprintf(stderr, "Error: exec in container %s: fork: %s\n", id, strerror(errno));
		_exit(125);
	}
	close(errp[1]), close(outp[1]), close(errpipe[1]), close(pfd), close(seal);
	if (inp[0] >= 0)
		close(inp[0]);
	if (devnull >= 0)
		close(devnull);
	signal(SIGPIPE, SIG_IGN); // a process that closes its stdin must not kill us
	char msg[8192];
	ssize_t m = read_all(errp[0], msg, sizeof(msg) - 1);
	close(errp[0]);
	int status;
	if (m > 0) {
		msg[m] = 0;
		char *nl = strchr(msg, '\n');
		int code = atoi(msg);
		while (waitpid(-1, &status, 0) > 0 || errno == EINTR) // C', and C'' if it was forked
			;
		fprintf(stderr, "Error: %s\n", nl ? nl + 1 : msg);
		_exit(code > 0 ? code : 125);
	}
	// No message: C' forked C'' and exited, and C'' executed the command.
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "Error: exec in container %s: the process entering it died (status %#x)\n", id, status);
		_exit(125);
	}
	if (r.detach)
		_exit(0); // the command runs on; whoever adopts it reaps it
	copy_loop(outp[0], errpipe[0], inp[1]);
	pid_t w;
	while ((w = waitpid(-1, &status, 0)) < 0 && errno == EINTR)
		;
	if (w < 0) {
		fprintf(stderr, "Error: exec in container %s: wait: %s\n", id, strerror(errno));
		_exit(125);
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

// ---- C': enter the container and exec ----------------------------------------------------------

int hako_errfd = -1;
char hako_prefix[256];
static const char *cid = "";

static __attribute__((noreturn)) void vfail(int code, const char *prefix, const char *fmt, va_list ap)
{
	char msg[4096];
	int n = snprintf(msg, sizeof(msg), "%d\n%s", code, prefix);
	if (n > (int)sizeof(msg) - 1)
		n = sizeof(msg) - 1;
	n += vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (n > (int)sizeof(msg) - 1)
		n = sizeof(msg) - 1;
	hako_write_all(hako_errfd, msg, n);
	_exit(code);
}

// hako_fail reports a failure to P (or M) in the Go path's words and ends the stage.
void hako_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, "", fmt, ap);
	va_end(ap);
}

// hako_sfail is hako_fail for the init's own errors: hako_prefix goes before them.
void hako_sfail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, hako_prefix, fmt, ap);
	va_end(ap);
}

// hako_goerr is Go's text for errno e: C's with a lower-case first letter (syscall.Errno's table).
const char *hako_goerr(int e)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(e));
	buf[0] = tolower((unsigned char)buf[0]);
	return buf;
}

// pseudo_fs tells the kernel's own filesystems (their files are views of the kernel, not data
// of the image) from the others.
static int pseudo_fs(long type)
{
	switch ((unsigned long)type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEBUGFS_MAGIC:
	case SECURITYFS_MAGIC:
	case TRACEFS_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case BPF_FS_MAGIC:
	case DEVPTS_SUPER_MAGIC:
	case 0x19800202: // MQUEUE_MAGIC (the kernel's ipc/mqueue.c; not in linux/magic.h)
		return 1;
	}
	return 0;
}

// user_home returns the home of uid in the container's /etc/passwd, or "/" (runc's getUserHome).
static char *user_home(unsigned long uid)
{
	static char home[PATH_MAX];
	strcpy(home, "/");
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return home;
	struct stat st;
	struct statfs sf;
	// A FIFO or a device must not hang us; and a "regular" file of the kernel's, such as
	// /proc/kmsg behind an image's symlink, must not be read with the capabilities we still
	// have (it would drain the host's kernel log into HOME).
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fstatfs(fd, &sf) < 0 || pseudo_fs(sf.f_type)) {
		close(fd);
		return home;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return home;
	}
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		// name:password:uid:gid:gecos:home:shell
		char *field[7] = {0};
		int nf = 0;
		char *s = line;
		for (; nf < 7; nf++) {
			field[nf] = s;
			char *c = strchr(s, ':');
			if (!c) {
				nf++;
				break;
			}
			*c = 0;
			s = c + 1;
		}
		if (nf < 3 || line[0] == '#')
			continue;
		char *end;
		unsigned long u = strtoul(field[2], &end, 10);
		if (*field[2] == 0 || *end || u != uid)
			continue;
		snprintf(home, sizeof(home), "%s", nf > 5 ? field[5] : "");
		break;
	}
	free(line);
	fclose(f);
	return home;
}

// set_env applies KEY=VALUE over env as image.SetEnv does: the first entry of KEY is replaced,
// or it is appended.
static void set_env(char **env, int *n, char *kv)
{
	size_t k = strcspn(kv, "=");
	for (int i = 0; i < *n; i++)
		if (strncmp(env[i], kv, k) == 0 && (env[i][k] == '=' || env[i][k] == 0)) {
			env[i] = kv;
			return;
		}
	env[(*n)++] = kv;
}

// prepare_env is libcontainer's prepareEnv: the last of each key, in place, an empty HOME
// dropped, and HOME from the container's passwd when it is not set. It returns the PATH.
static const char *prepare_env(char **env, int *n, unsigned long uid)
{
	char **out = calloc(*n + 2, sizeof(char *));
	if (!out)
		hako_sfail(125, "out of memory");
	int m = 0, home = 0;
	const char *path = NULL;
	for (int i = *n - 1; i >= 0; i--) {
		char *kv = env[i];
		char *eqs = strchr(kv, '=');
		if (!eqs)
			hako_sfail(125, "invalid environment variable: missing '='");
		if (eqs == kv)
			hako_sfail(125, "invalid environment variable: name cannot be empty");
		size_t k = eqs - kv;
		int dup = 0;
		for (int j = 0; j < m && !dup; j++)
			dup = strncmp(out[j], kv, k + 1) == 0;
		if (dup)
			continue;
		if (k == 4 && strncmp(kv, "PATH", 4) == 0)
			path = eqs + 1;
		if (k == 4 && strncmp(kv, "HOME", 4) == 0) {
			if (eqs[1] == 0)
				continue;
			home = 1;
		}
		out[m++] = kv;
	}
	for (int i = 0; i < m / 2; i++) {
		char *t = out[i];
		out[i] = out[m - 1 - i];
		out[m - 1 - i] = t;
	}
	if (!home) {
		char *h = user_home(uid);
		char *kv = malloc(strlen(h) + 6);
		if (!kv)
			hako_sfail(125, "out of memory");
		sprintf(kv, "HOME=%s", h);
		out[m++] = kv;
	}
	memcpy(env, out, m * sizeof(char *));
	env[m] = NULL;
	*n = m;
	return path;
}

// find_executable is Go's (os/exec, lp_unix.go): 0, or the error for file.
static int find_executable(const char *file, char *err, size_t cap)
{
	struct stat st;
	if (stat(file, &st) < 0) {
		snprintf(err, cap, "stat %s: %s", file, hako_goerr(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, cap, "%s", hako_goerr(EISDIR));
		return -1;
	}
	long r = syscall(SYS_faccessat2, AT_FDCWD, file, X_OK, AT_EACCESS);
	if (r == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM) {
		snprintf(err, cap, "%s", hako_goerr(errno));
		return -1;
	}
	if (st.st_mode & 0111)
		return 0;
	snprintf(err, cap, "%s", hako_goerr(EACCES));
	return -1;
}

// classify gives Docker's exit code for the failure to find or execute the command, by the
// same words as runtime.classifyExecError.
static int classify(const char *msg)
{
	if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory") ||
	    strstr(msg, "not a directory"))
		return 127;
	if (strstr(msg, "permission denied") || strstr(msg, "is a directory") || strstr(msg, "exec format error"))
		return 126;
	return 125;
}

// look_path is Go's exec.LookPath with the process's PATH; it fails C' the way the Go path
// reports it.
static char *look_path(const char *file, const char *path)
{
	char err[PATH_MAX + 128], msg[2 * PATH_MAX + 256];
	if (strchr(file, '/')) {
		if (find_executable(file, err, sizeof(err)) == 0)
			return (char *)file;
		snprintf(msg, sizeof(msg), "exec: \"%s\": %s", file, err);
		hako_sfail(classify(msg), "%s", msg);
	}
	if (path && *path) { // an empty PATH is an empty list for Go's filepath.SplitList
		const char *s = path;
		for (;;) {
			const char *c = strchr(s, ':');
			size_t len = c ? (size_t)(c - s) : strlen(s);
			char dir[PATH_MAX], *cand = malloc(PATH_MAX + strlen(file) + 2);
			if (!cand)
				hako_sfail(125, "out of memory");
			if (len == 0)
				strcpy(dir, ".");
			else
				snprintf(dir, sizeof(dir), "%.*s", (int)len, s);
			// filepath.Join(dir, file), cleaned the way Go cleans it for the cases PATH has.
			if (eq(dir, "."))
				snprintf(cand, PATH_MAX + strlen(file) + 2, "%s", file);
			else if (dir[strlen(dir) - 1] == '/')
				snprintf(cand, PATH_MAX + strlen(file) + 2, "%s%s", dir, file);
			else
				snprintf(cand, PATH_MAX + strlen(file) + 2, "%s/%s", dir, file);
			if (find_executable(cand, err, sizeof(err)) == 0) {
				if (cand[0] != '/') {
					snprintf(msg, sizeof(msg), "exec: \"%s\": cannot run executable found relative to current directory", file);
					hako_sfail(125, "%s", msg);
				}
				return cand;
			}
			free(cand);
			if (!c)
				break;
			s = c + 1;
		}
	}
	snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH", file);
	hako_sfail(127, "%s", msg);
	return NULL;
}

int hako_last_cap(void)
{
	char buf[32];
	if (hako_read_small("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) < 0)
		return CAP_LAST_CAP;
	return atoi(buf);
}

static void load_seccomp(const struct profile *p)
{
	struct sock_fprog prog = {.len = p->nfilter, .filter = p->filter};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0)
		hako_sfail(125, "load the seccomp filter: %s", hako_goerr(errno));
}

// stage is what C' hands C''.
struct stage {
	struct request r;
	struct profile p;
	int lastcap, allow_setgroups;
	uint64_t host_bounding;
	int cg2; // the v2 cgroup's directory C'' was cloned into (-1: none): hako_cg_child
};

// final_main is C'': libcontainer's setns init from the keyring on, then the command.
static int final_main(void *arg)
{
	struct stage *st = arg;
	const struct profile *p = &st->p;
	hako_cg_child(st->cg2);
	if (setsid() < 0)
		hako_sfail(125, "setsid: %s", hako_goerr(errno));

	// libcontainer's setns init, in its order.
	if (p->keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p->keyring) < 0 && errno != ENOSYS)
		hako_sfail(125, "unable to join session keyring: %s", hako_goerr(errno));
	struct hako_final f = {
		.p = p, .xenv = st->r.env, .nxenv = st->r.nenv,
		.cwd = st->r.workdir ? st->r.workdir : p->cwd,
		.lastcap = st->lastcap, .allow_setgroups = st->allow_setgroups,
		.ready_fd = -1, .go_fd = -1,
	};
	memcpy(f.caps, p->caps, sizeof(f.caps));
	if (st->r.privileged) {
		f.caps[0] = f.caps[1] = f.caps[2] = st->host_bounding;
		f.caps[3] = f.caps[4] = 0;
	}
	f.cmd = calloc(st->r.ncmd + 1, sizeof(char *));
	if (!f.cmd)
		hako_sfail(125, "out of memory");
	memcpy(f.cmd, st->r.cmd, st->r.ncmd * sizeof(char *));
	hako_finalize(&f);
}

// hako_finalize: libcontainer's inits from no_new_privs on (fastexec.h).
void hako_finalize(const struct hako_final *f)
{
	const struct profile *p = f->p;
	int lastcap = f->lastcap;
	// Before anything of the container's own (seccomp, the user): raising one's nice value is
	// always allowed, and a container must never keep the init's boost.
	if (f->restore_nice && setpriority(PRIO_PROCESS, 0, f->nice) < 0)
		hako_sfail(125, "restore the nice value: %s", hako_goerr(errno));
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		hako_sfail(125, "no_new_privs: %s", hako_goerr(errno));
	if (p->has_seccomp && !p->nnp)
		load_seccomp(p);

	// finalizeNamespace.
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		hako_sfail(125, "error closing exec fds: %s", hako_goerr(errno));
	const char *cwd = f->cwd;
	int chdir_later = 0;
	if (chdir(cwd) < 0) {
		if (errno == EACCES || errno == EPERM)
			chdir_later = 1;
		else
			hako_sfail(125, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd, hako_goerr(errno));
	}
	char **env = calloc(p->nenv + f->nxenv + 2, sizeof(char *));
	if (!env)
		hako_sfail(125, "out of memory");
	int nenv = 0;
	for (int k = 0; k < p->nenv; k++)
		env[nenv++] = p->env[k];
	for (int k = 0; k < f->nxenv; k++)
		set_env(env, &nenv, f->xenv[k]);
	const char *path = prepare_env(env, &nenv, p->uid);

	const uint64_t *caps = f->caps;
	for (int c = 0; c <= lastcap && c < 64; c++)
		if (!(caps[0] & (1ULL << c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			hako_sfail(125, "unable to apply bounding set: %s", hako_goerr(errno));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		hako_sfail(125, "unable to set keep caps: %s", hako_goerr(errno));
	// setupUser: stdio owned by the user (not /dev/null), groups, gid, uid.
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			hako_sfail(125, "fstat: %s", hako_goerr(errno));
		if (st.st_uid == p->uid || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
			continue;
		if (fchown(fd, p->uid, -1) < 0 && errno != EPERM && errno != EROFS)
			hako_sfail(125, "unable to setup user: %s", hako_goerr(errno));
	}
	if (f->allow_setgroups && syscall(SYS_setgroups, p->ngroups, p->groups) < 0)
		hako_sfail(125, "unable to setup user: setgroups: %s", hako_goerr(errno));
	if (syscall(SYS_setgid, p->gid) < 0) {
		if (errno == EINVAL)
			hako_sfail(125, "unable to setup user: cannot setgid to unmapped gid %lu in user namespace", p->gid);
		hako_sfail(125, "unable to setup user: %s", hako_goerr(errno));
	}
	if (syscall(SYS_setuid, p->uid) < 0) {
		if (errno == EINVAL)
			hako_sfail(125, "unable to setup user: cannot setuid to unmapped uid %lu in user namespace", p->uid);
		hako_sfail(125, "unable to setup user: %s", hako_goerr(errno));
	}
	if (chdir_later && chdir(cwd) < 0)
		hako_sfail(125, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd, hako_goerr(errno));
	char wd[PATH_MAX];
	if (!getcwd(wd, sizeof(wd))) {
		if (errno == ENOENT)
			hako_sfail(125, "current working directory is outside of container mount namespace root -- possible container breakout detected");
		hako_sfail(125, "failed to verify if current working directory is safe: %s", hako_goerr(errno));
	}
	if (wd[0] != '/')
		hako_sfail(125, "current working directory is not absolute -- possible container breakout detected: cwd is \"%s\"", wd);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		hako_sfail(125, "unable to clear keep caps: %s", hako_goerr(errno));
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	for (int w = 0; w < 2; w++) {
		data[w].effective = (uint32_t)(caps[1] >> (32 * w));
		data[w].permitted = (uint32_t)(caps[2] >> (32 * w));
		data[w].inheritable = (uint32_t)(caps[3] >> (32 * w));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		hako_sfail(125, "unable to apply caps: can't apply capabilities: %s", hako_goerr(errno));
	// Ambient capabilities as libcontainer sets them: cleared, then raised one by one, a
	// failure ignored.
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int c = 0; c <= lastcap && c < 64; c++)
		if (caps[4] & (1ULL << c))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	char *name = look_path(f->cmd[0], path);
	if (f->ready_fd >= 0) {
		char b = 'R';
		if (hako_write_all(f->ready_fd, &b, 1) < 0)
			_exit(125); // the monitor is gone: nobody would track the command
		close(f->ready_fd);
		ssize_t n;
		while ((n = read(f->go_fd, &b, 1)) < 0 && errno == EINTR)
			;
		if (n != 1 || b != 'G')
			_exit(125); // the monitor died, or gave up on the container
		close(f->go_fd);
	}
	if (p->has_seccomp && p->nnp)
		load_seccomp(p);
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		hako_sfail(125, "error closing exec fds: %s", hako_goerr(errno));
	// The caller's blocked and ignored signals are not the process's (libcontainer's Go init
	// resets all but SIGHUP, which a Go program that found it ignored leaves ignored).
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGHUP && sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	while (execve(name, f->cmd, env) < 0 && errno == EINTR)
		;
	char msg[PATH_MAX + 64];
	snprintf(msg, sizeof(msg), "exec %s: %s", name, hako_goerr(errno));
	hako_sfail(classify(msg), "%s", msg);
}

// hako_host_setup is what both stages do to themselves on the host before they enter the
// container, for their child to inherit: oom_score_adj, the rlimits, the cgroups (as
// libcontainer's AddPid, a missing one is an error too) and all the CPUs the cpuset allows
// (libcontainer's tryResetCPUAffinity; a failure only leaves the caller's affinity).
//
// The caller is single-threaded (a C constructor, before any thread), so it enters a v1
// hierarchy by writing 0 to the cgroup's tasks file, which moves the calling thread, and thus
// the whole process. cgroup.procs would move the thread group: the kernel then write-locks
// cgroup_threadgroup_rwsem, whose first writer waits for an RCU grace period (5-25 ms on this
// VM, 2026-11-29); a move of the caller's own thread takes no such lock. A v2 cgroup has no
// such way in (cgroup.threads moves only within a domain): it is entered through cgroup.procs,
// or, if cg2 is not NULL, left to the caller, who gets its directory opened (O_PATH) in *cg2 to
// start its child in with clone3's CLONE_INTO_CGROUP, which takes the lock for reading only.
void hako_host_setup(const struct profile *p, int *cg2)
{
	if (cg2)
		*cg2 = -1;
	if (p->has_oom) {
		char v[32];
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		int len = snprintf(v, sizeof(v), "%d", p->oom);
		if (fd < 0 || hako_write_all(fd, v, len) < 0)
			hako_sfail(125, "set oom_score_adj: %s", hako_goerr(errno));
		close(fd);
	}
	for (int k = 0; k < p->nrlimits; k++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[k].soft, .rlim_max = p->rlimits[k].hard};
		if (setrlimit(p->rlimits[k].res, &rl) < 0)
			hako_sfail(125, "setrlimit %d: %s", p->rlimits[k].res, hako_goerr(errno));
	}
	for (int k = 0; k < p->ncgroups; k++) {
		int dir = open(p->cgroups[k], O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct statfs sf;
		if (dir < 0 || fstatfs(dir, &sf) < 0)
			hako_sfail(125, "join cgroup %s: %s", p->cgroups[k], hako_goerr(errno));
		int v2 = sf.f_type == CGROUP2_SUPER_MAGIC;
		if (v2 && cg2 && *cg2 < 0) {
			*cg2 = dir;
			continue;
		}
		int fd = openat(dir, v2 ? "cgroup.procs" : "tasks", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || hako_write_all(fd, "0", 1) < 0)
			hako_sfail(125, "join cgroup %s: %s", p->cgroups[k], hako_goerr(errno));
		close(fd);
		close(dir);
	}
	cpu_set_t all;
	memset(&all, 0xff, sizeof(all));
	sched_setaffinity(0, sizeof(all), &all);
}

#if defined(__x86_64__)
// clone3's arguments (linux/sched.h's struct clone_args, version 2: with cgroup).
struct hako_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};
#define HAKO_CLONE_INTO_CGROUP 0x200000000ULL

// hako_clone3(args, size, fn, arg) is clone3 as glibc's clone() is clone: the child calls
// fn(arg) on the stack of args and exits with its value; the parent gets the raw result (the
// PID, or -errno). glibc 2.36 exports no clone3. fn and arg ride in r8 and r9, which the
// system call keeps, and which the child starts with.
HAKO_HIDDEN long hako_clone3(struct hako_clone_args *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".text\n"
	".globl hako_clone3\n"
	".hidden hako_clone3\n"
	".type hako_clone3, @function\n"
	"hako_clone3:\n"
	"	mov %rdx, %r8\n"
	"	mov %rcx, %r9\n"
	"	mov $435, %eax\n" // __NR_clone3
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n" // __NR_exit
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size hako_clone3, .-hako_clone3\n"
	".previous\n");
#endif

pid_t hako_clone_cg(int (*fn)(void *), char *stack, size_t stack_size, int flags, int exit_signal, void *arg, int *cg2)
{
	int fd = *cg2;
	if (fd >= 0) {
#if defined(__x86_64__)
		struct hako_clone_args ca = {
			.flags = (uint64_t)flags | HAKO_CLONE_INTO_CGROUP,
			.exit_signal = (uint64_t)exit_signal,
			.stack = (uintptr_t)stack,
			.stack_size = stack_size,
			.cgroup = (uint64_t)fd,
		};
		long r = hako_clone3(&ca, sizeof(ca), fn, arg);
		if (r >= 0) {
			close(fd); // the child closes its own copy (hako_cg_child)
			return r;
		}
#endif
		// Before Linux 5.7 there is no CLONE_INTO_CGROUP, before 5.3 no clone3, and a seccomp
		// policy around hako may deny clone3 (EPERM): the move, then clone, which say in their
		// words what is wrong.
		*cg2 = -1;
		int pfd = openat(fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (pfd < 0 || hako_write_all(pfd, "0", 1) < 0)
			hako_sfail(125, "join the v2 cgroup: %s", hako_goerr(errno));
		close(pfd);
		close(fd);
	}
	return clone(fn, stack + stack_size, flags | exit_signal, arg);
}

void hako_cg_child(int cg2)
{
	if (cg2 < 0)
		return;
	close(cg2); // a host directory: never for the container (-w /proc/self/fd/N)
	cpu_set_t all;
	memset(&all, 0xff, sizeof(all));
	sched_setaffinity(0, sizeof(all), &all);
}

static void stage2(int argc, char **argv)
{
	// argv: hako __fastexec ERRFD PROFILEFD ARGS...
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc < 5) {
		fprintf(stderr, "Error: %s is hako's own verb\n", STAGE_VERB);
		_exit(125);
	}
	hako_errfd = atoi(argv[2]);
	int pfd = atoi(argv[3]);
	if (hako_cloexec(hako_errfd, 1) < 0 || hako_cloexec(pfd, 1) < 0) {
		fprintf(stderr, "Error: %s is hako's own verb\n", STAGE_VERB);
		_exit(125);
	}
	struct request r;
	if (parse_request(argc - 4, argv + 4, &r) != 1)
		hako_fail(125, "exec: the command line changed between the stages");
	char *buf = malloc(PROFILE_MAX);
	struct profile p;
	ssize_t n = buf ? pread(pfd, buf, PROFILE_MAX, 0) : -1;
	if (n <= 0 || n == PROFILE_MAX || parse_profile(buf, n, &p) < 0)
		hako_fail(125, "exec: cannot read the exec profile again");
	close(pfd);
	cid = p.id;
	snprintf(hako_prefix, sizeof(hako_prefix), "exec in container %s: unable to start container process: ", cid);

	// Everything of the host first: namespace and cgroup files, oom_score_adj, rlimits.
	int nsfd[16];
	for (int k = 0; k < p.nns; k++)
		if ((nsfd[k] = open(p.ns_path[k], O_RDONLY | O_CLOEXEC)) < 0) {
			if (errno == ENOENT || errno == ESRCH) // the init exited since P looked
				hako_fail(125, "container %s is not running", cid);
			hako_sfail(125, "open namespace %s: %s", p.ns_path[k], hako_goerr(errno));
		}
	char state;
	unsigned long long start;
	if (proc_start(p.pid, &state, &start) < 0 || start != p.start || state == 'Z' || state == 'X')
		hako_fail(125, "container %s is not running", cid);
	int lastcap = hako_last_cap();
	// exec --privileged gets every capability of the host's bounding set, none inheritable or
	// ambient, as the Go path's (spec's allSupportedCapabilities): read here, on the host, as
	// joining a user namespace gives a full set.
	uint64_t host_bounding = 0;
	for (int c = 0; c <= lastcap && c < 64; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			host_bounding |= 1ULL << c;
	// The v2 cgroup is entered by the clone of C'' (hako_clone_cg), not by a move, whose RCU
	// grace period (5-25 ms here) the v1 moves avoid; not when the exec joins a user or a
	// cgroup namespace, after which the move (made before the joins otherwise) could be refused.
	int cg2 = -1, cg2_ok = 1;
	for (int k = 0; k < p.nns; k++)
		if (eq(p.ns_type[k], "user") || eq(p.ns_type[k], "cgroup"))
			cg2_ok = 0;
	hako_host_setup(&p, cg2_ok ? &cg2 : NULL);

	// The namespaces: the user namespace first (the others belong to it), the mount namespace
	// last but one, so that the cgroup namespace is joined from the container's view.
	static const char *order[] = {"user", "ipc", "uts", "net", "mnt", "cgroup", "pid"};
	static const int flags[] = {CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWPID};
	int allow_setgroups = 1;
	for (int o = 0; o < 7; o++) {
		for (int k = 0; k < p.nns; k++) {
			if (!eq(p.ns_type[k], order[o]))
				continue;
			if (setns(nsfd[k], flags[o]) < 0)
				hako_sfail(125, "join the %s namespace: %s", order[o], hako_goerr(errno));
			if (flags[o] == CLONE_NEWUSER) {
				// setgroups is per user namespace: read it from the host's /proc, before the
				// container's mounts stand in for it.
				char sg[32];
				if (hako_read_small("/proc/self/setgroups", sg, sizeof(sg)) > 0 && has_prefix(sg, "deny"))
					allow_setgroups = 0;
			}
		}
	}
	for (int k = 0; k < p.nns; k++)
		close(nsfd[k]);

	// C'': the first process in the container's PID namespace, already in its mount namespace.
	// It shares our memory until it execs (CLONE_VM|CLONE_VFORK, no page tables copied):
	// we only wait for that and exit, and P adopts it.
	static struct stage st;
	st.r = r, st.p = p, st.lastcap = lastcap, st.host_bounding = host_bounding, st.allow_setgroups = allow_setgroups;
	st.cg2 = cg2;
	size_t stack_size = 256 << 10;
	char *stack = malloc(stack_size);
	if (!stack)
		hako_sfail(125, "out of memory");
	if (hako_clone_cg(final_main, stack, stack_size, CLONE_VM | CLONE_VFORK, SIGCHLD, &st, &st.cg2) < 0) {
		if (errno == ENOMEM) // the namespace's init died meanwhile
			hako_fail(125, "container %s is not running", cid);
		hako_sfail(125, "fork: %s", hako_goerr(errno));
	}
	_exit(0);
}

// ---- the constructor ------------------------------------------------------------------------------

__attribute__((constructor)) static void hako_fastexec(int argc, char **argv, char **envp)
{
	if (argc == 2 && eq(argv[1], "__faststart"))
		hako_faststart(); // never returns
	if (argc < 3 || eq(argv[1], "__keep")) // the monitor's keeper (package monitor)
		return;
	if (eq(argv[1], STAGE_VERB))
		stage2(argc, argv); // never returns
	// Cheap refusals first: this runs in every hako process.
	int verb = 0;
	for (int i = 1; i < argc && i < 8; i++)
		if (eq(argv[i], "exec")) {
			verb = 1;
			break;
		}
	if (!verb)
		return;
	const char *mode = getenv("HAKO_EXEC_PATH");
	if (mode && eq(mode, "go"))
		return;
	const char *debug = getenv("HAKO_DEBUG");
	if (debug && *debug) {
		why = "HAKO_DEBUG is set (the Go path prints the phases)";
		return handover();
	}
	parent(argc, argv, envp); // -D and --debug are flags parse_request leaves to Go
}

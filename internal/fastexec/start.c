// The C path of `hako run` (docs/run.md): the `__faststart` stage, S and I.
//
//   S  the sealed hako binary, executed by the container's monitor M with the container's
//      stdio on 0, 1 and 2, the start profile on 3 (a pipe, read to EOF: M writes it once it has
//      made the cgroups and planned the mounts, while S starts), the error pipe on 4, the PID
//      pipe on 5 and the go pipe on 6.
//      Still on the host: enters the v1 cgroups, sets oom_score_adj, the rlimits, a full CPU
//      affinity and umask 022, joins the namespaces that have a path, and clones I with the
//      new namespaces and CLONE_PARENT (M waits for I), into the v2 cgroup (clone3's
//      CLONE_INTO_CGROUP). It writes I's PID on 5 and exits.
//   I  PID 1 of the container, in S's memory (CLONE_VM: S exits at once). It does what
//      libcontainer's nsexec stage-2 and standard init do, in their order: setsid, the session
//      keyring, lo, the root (propagation, the rootfs bound onto itself), the mount plan,
//      pivot_root, /dev/null, the working directory, the read-only root, the hostname,
//      sysctls, read-only and masked paths, and the finalization shared with `hako exec`
//      (hako_finalize: no_new_privs, seccomp, capabilities, user, working directory, the
//      command looked up as Go's LookPath does, execve).
//
// Every failure before the exec is written on the error pipe as "CODE\nMESSAGE", in the words
// of libcontainer's init (M puts "start container ID: " before them), and the stage exits
// with CODE. The error pipe is close-on-exec: EOF with nothing read means the command runs.
//
// Every dst of the plan comes from a user or an image: it is resolved with openat2 and
// RESOLVE_IN_ROOT from a descriptor of the rootfs, missing directories are created one at a
// time from the descriptor of their resolved parent, and a mount goes onto the resolved
// descriptor (/proc/self/fd/N), so that a symlink in the image can never lead I to a host
// path.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "fastexec.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif
#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif
#ifndef KEYCTL_SETPERM
#define KEYCTL_SETPERM 5
#endif
#ifndef KEYCTL_DESCRIBE
#define KEYCTL_DESCRIBE 6
#endif

#define PROFILE_FD 3
#define ERROR_FD 4
#define PID_FD 5
#define GO_FD 6
#define START_PROFILE_MAX (4 << 20)

static int eq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

// ---- the start profile -----------------------------------------------------------------------

enum { OP_FS, OP_BIND, OP_MKNOD, OP_SYMLINK, OP_UNLINK, NOPS };
static const char *op_names[NOPS] = {"fs", "bind", "mknod", "symlink", "unlink"};

// The fields each kind of op takes (docs/run.md).
enum { F_SRC = 1, F_DST = 2, F_TYPE = 4, F_FLAGS = 8, F_DATA = 16, F_PFLAG = 32, F_REMOUNT = 64,
       F_MODE = 128, F_MAJOR = 256, F_MINOR = 512, F_UID = 1024, F_GID = 2048, F_TARGET = 4096 };
static const struct { const char *name; int bit; } op_fields[] = {
	{"src", F_SRC}, {"dst", F_DST}, {"type", F_TYPE}, {"flags", F_FLAGS}, {"data", F_DATA},
	{"pflag", F_PFLAG}, {"remount", F_REMOUNT}, {"mode", F_MODE}, {"major", F_MAJOR},
	{"minor", F_MINOR}, {"uid", F_UID}, {"gid", F_GID}, {"target", F_TARGET},
};
static const int op_allowed[] = {
	[OP_FS] = F_SRC | F_DST | F_TYPE | F_FLAGS | F_DATA | F_PFLAG,
	[OP_BIND] = F_SRC | F_DST | F_FLAGS | F_DATA | F_REMOUNT | F_PFLAG,
	[OP_MKNOD] = F_DST | F_MODE | F_MAJOR | F_MINOR | F_UID | F_GID,
	[OP_SYMLINK] = F_DST | F_TARGET,
	[OP_UNLINK] = F_DST,
};
static const int op_required[] = {
	[OP_FS] = F_DST | F_TYPE,
	[OP_BIND] = F_SRC | F_DST,
	[OP_MKNOD] = F_DST | F_MODE,
	[OP_SYMLINK] = F_DST | F_TARGET,
	[OP_UNLINK] = F_DST,
};

struct op {
	int kind, seen;
	char *src, *dst, *type, *data, *target;
	unsigned long flags, remount;
	unsigned long pflags[8];
	int npflags;
	unsigned int mode, major, minor, uid, gid;
};

struct start {
	struct profile p;
	char **args;
	int nargs;
	int newns;                            // CLONE_NEW* of the namespaces to create
	char *join_type[16], *join_path[16];  // the namespaces to join
	int njoin;
	int lo;
	char *rootfs;
	unsigned long rootprop;
	char *hostname, *domainname;
	char **sysctl, **mask, **ropath;
	int nsysctl, nmask, nropath;
	int rootro;
	int devnull;                          // reOpenDevNull: hako made the container's /dev
	char **late_dst;                      // tmpfs made read-only after pivot_root (finalizeRootfs)
	unsigned long *late_flags;
	int nlate;
	struct op *ops;
	int nops;
};

static const char *ns_names[] = {"mnt", "pid", "net", "ipc", "uts", "cgroup"};
static const int ns_flags[] = {CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP};

static int ns_flag(const char *type)
{
	for (int k = 0; k < 6; k++)
		if (eq(type, ns_names[k]))
			return ns_flags[k];
	return 0;
}

static int parse_ul(const char *s, unsigned long *out, int base)
{
	char *end;
	if (!*s)
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, base);
	if (errno || *end || x > ULONG_MAX)
		return -1;
	*out = x;
	return 0;
}

static int parse_uint(const char *s, unsigned int *out, int base)
{
	unsigned long x;
	if (parse_ul(s, &x, base) || x > UINT32_MAX)
		return -1;
	*out = x;
	return 0;
}

// op_field takes a field of the op being read: 1, 0 for a key that is not one of its fields
// (or one it already has: the plan is over), -1 for a malformed value.
static int op_field(struct op *o, const char *key, char *v)
{
	int bit = 0;
	for (size_t k = 0; k < sizeof(op_fields) / sizeof(op_fields[0]); k++)
		if (eq(key, op_fields[k].name))
			bit = op_fields[k].bit;
	if (!bit || !(op_allowed[o->kind] & bit) || (bit != F_PFLAG && (o->seen & bit)))
		return 0;
	o->seen |= bit;
	switch (bit) {
	case F_SRC: o->src = v; return 1;
	case F_DST: o->dst = v; return 1;
	case F_TYPE: o->type = v; return 1;
	case F_DATA: o->data = v; return 1;
	case F_TARGET: o->target = v; return 1;
	case F_FLAGS: return parse_ul(v, &o->flags, 10) ? -1 : 1;
	case F_REMOUNT: return parse_ul(v, &o->remount, 10) ? -1 : 1;
	case F_PFLAG:
		if (o->npflags >= 8)
			return -1;
		return parse_ul(v, &o->pflags[o->npflags++], 10) ? -1 : 1;
	case F_MODE: return parse_uint(v, &o->mode, 8) ? -1 : 1;
	case F_MAJOR: return parse_uint(v, &o->major, 10) ? -1 : 1;
	case F_MINOR: return parse_uint(v, &o->minor, 10) ? -1 : 1;
	case F_UID: return parse_uint(v, &o->uid, 10) ? -1 : 1;
	case F_GID: return parse_uint(v, &o->gid, 10) ? -1 : 1;
	}
	return -1;
}

// parse_start reads a start profile (docs/run.md); strings point into buf. It returns NULL or
// the reason it refuses the profile.
static const char *parse_start(char *buf, size_t n, struct start *s)
{
	memset(s, 0, sizeof(*s));
	if (hako_profile_begin(&s->p, buf, n) < 0)
		return "empty or not NUL-terminated";
	size_t cnt = 0;
	for (size_t k = 0; k < n; k++)
		cnt += buf[k] == 0;
	s->args = calloc(cnt + 1, sizeof(char *));
	s->sysctl = calloc(cnt + 1, sizeof(char *));
	s->mask = calloc(cnt + 1, sizeof(char *));
	s->ropath = calloc(cnt + 1, sizeof(char *));
	s->ops = calloc(cnt + 1, sizeof(struct op));
	s->late_dst = calloc(cnt + 1, sizeof(char *));
	s->late_flags = calloc(cnt + 1, sizeof(unsigned long));
	if (!s->args || !s->sysctl || !s->mask || !s->ropath || !s->ops || !s->late_dst || !s->late_flags)
		return "out of memory";
	int first = 1, have_rootfs = 0, have_end = 0;
	struct op *cur = NULL;
	for (char *e = buf, *next; e < buf + n; e = next) {
		next = e + strlen(e) + 1;
		char *v = strchr(e, '=');
		if (!v)
			return "an entry without '='";
		*v++ = 0;
		if (first) {
			if (!eq(e, "v") || !eq(v, "1"))
				return "not version 1";
			first = 0;
			continue;
		}
		if (cur) {
			int r = op_field(cur, e, v);
			if (r < 0)
				return "a malformed field of an op";
			if (r > 0)
				continue;
			cur = NULL; // the plan is over (until the next op)
		}
		if (eq(e, "end")) {
			// The last entry: the profile comes through a pipe, and a writer that died in
			// the middle leaves one cut short, perhaps at an entry's boundary.
			if (next != buf + n)
				return "entries after the end";
			have_end = 1;
		} else if (eq(e, "op")) {
			int kind = -1;
			for (int k = 0; k < NOPS; k++)
				if (eq(v, op_names[k]))
					kind = k;
			if (kind < 0)
				return "an op it does not know";
			cur = &s->ops[s->nops++];
			cur->kind = kind;
		} else if (eq(e, "ns")) {
			char *c = strchr(v, ':');
			if (c)
				*c = 0;
			int fl = ns_flag(v);
			if (!fl)
				return "a namespace type it does not know";
			if (c) {
				if (s->njoin >= 16 || c[1] != '/')
					return "a malformed ns entry";
				s->join_type[s->njoin] = v, s->join_path[s->njoin++] = c + 1;
			} else {
				s->newns |= fl;
			}
		} else if (eq(e, "arg")) {
			s->args[s->nargs++] = v;
		} else if (eq(e, "lo")) {
			s->lo = eq(v, "1");
		} else if (eq(e, "rootfs")) {
			s->rootfs = v, have_rootfs = 1;
		} else if (eq(e, "rootprop")) {
			if (parse_ul(v, &s->rootprop, 10))
				return "a malformed rootprop";
		} else if (eq(e, "hostname")) {
			s->hostname = v;
		} else if (eq(e, "domainname")) {
			s->domainname = v;
		} else if (eq(e, "sysctl")) {
			if (!strchr(v, '=') || v[0] == '=')
				return "a malformed sysctl";
			s->sysctl[s->nsysctl++] = v;
		} else if (eq(e, "mask")) {
			s->mask[s->nmask++] = v;
		} else if (eq(e, "ropath")) {
			s->ropath[s->nropath++] = v;
		} else if (eq(e, "rootro")) {
			s->rootro = eq(v, "1");
		} else if (eq(e, "devnull")) {
			s->devnull = eq(v, "1");
		} else if (eq(e, "lateremount")) {
			char *c = strchr(v, ':');
			if (!c)
				return "a malformed lateremount";
			*c = 0;
			if (parse_ul(v, &s->late_flags[s->nlate], 10))
				return "a malformed lateremount";
			s->late_dst[s->nlate++] = c + 1;
		} else if (hako_profile_entry(&s->p, e, v) < 0) {
			return "a malformed entry";
		}
		// Unknown keys are ignored: a newer writer may add some.
	}
	if (!have_end)
		return "cut short (no end entry)";
	if (first || !s->p.id || !s->p.have_caps || !s->p.have_uid || !s->p.have_gid || !s->p.cwd)
		return "a process key is missing (id, uid, gid, caps, cwd)";
	if (!have_rootfs || !hako_clean_abs(s->rootfs) || eq(s->rootfs, "/"))
		return "no rootfs, or not a clean absolute path";
	if (s->nargs == 0 || !s->args[0][0])
		return "no command";
	if (!(s->newns & CLONE_NEWNS))
		return "no new mount namespace";
	for (int k = 0; k < s->nops; k++) {
		struct op *o = &s->ops[k];
		if ((o->seen & op_required[o->kind]) != op_required[o->kind])
			return "an op without a field it needs";
		if (!hako_clean_abs(o->dst) || eq(o->dst, "/"))
			return "an op whose dst is not a clean absolute path below the root";
		if (strlen(o->dst) >= PATH_MAX || (o->src && strlen(o->src) >= PATH_MAX))
			return "an op whose path is longer than PATH_MAX";
		if (o->kind == OP_BIND && o->src[0] != '/')
			return "a bind whose source is not absolute";
	}
	if (strlen(s->p.cwd) >= PATH_MAX)
		return "a working directory longer than PATH_MAX";
	for (int k = 0; k < s->nsysctl; k++)
		if (strlen(s->sysctl[k]) >= PATH_MAX)
			return "a sysctl longer than PATH_MAX";
	for (int k = 0; k < s->nlate; k++)
		if (!hako_clean_abs(s->late_dst[k]) || eq(s->late_dst[k], "/") || strlen(s->late_dst[k]) >= PATH_MAX)
			return "a lateremount that is not a clean absolute path below the root";
	for (int k = 0; k < s->nmask; k++)
		if (s->mask[k][0] != '/' || strlen(s->mask[k]) >= PATH_MAX)
			return "a relative or too long masked path";
	for (int k = 0; k < s->nropath; k++)
		if (s->ropath[k][0] != '/' || strlen(s->ropath[k]) >= PATH_MAX)
			return "a relative or too long read-only path";
	return NULL;
}

// ---- paths inside the root -------------------------------------------------------------------

static int rootfd = -1;             // O_PATH descriptor of the rootfs (bound onto itself)
static char root_path[PATH_MAX];    // its path in I's mount namespace, as the kernel says it
static size_t root_len;
static struct stat root_st;

static const char *procfd(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

// open_in_root resolves rel (a path relative to the root, "" for the root) inside the root:
// a symlink, absolute or with "..", never leaves it.
static int open_in_root(const char *rel, int flags, unsigned long long resolve)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
	};
	if (!*rel)
		rel = ".";
	for (int i = 0; i < 64; i++) { // EAGAIN: a rename raced with the lookup
		int fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			return fd;
	}
	return -1;
}

// mkdir_all opens the directory dst (absolute) inside the root, creating what is missing with
// mode 0755 one component at a time, each from the descriptor of its resolved parent:
// mkdirat never follows a symlink, and a dangling one stops the walk (ENOENT). existed tells
// whether dst was there. The deepest ancestor that exists is looked for from dst up, not from
// the root down: the parent of the first missing component is what either finds, and a
// cgroup v1 hierarchy's mountpoint (sys/fs/cgroup/cpu: nine of them in Docker's layout) then
// takes three lookups instead of six, each from the root.
static int mkdir_all(const char *dst, int *existed)
{
	const char *rel = dst + 1;
	int fd = open_in_root(rel, O_PATH | O_DIRECTORY, 0);
	if (existed)
		*existed = fd >= 0;
	if (fd >= 0 || errno != ENOENT)
		return fd;
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	// buf up to missing is known not to exist; parent is the deepest ancestor that does.
	char *missing = buf + strlen(buf);
	int parent;
	for (;;) {
		char *slash = memrchr(buf, '/', missing - buf);
		if (!slash) {
			parent = open_in_root("", O_PATH | O_DIRECTORY, 0);
			missing = buf;
			break;
		}
		*slash = 0;
		parent = open_in_root(buf, O_PATH | O_DIRECTORY, 0);
		*slash = '/';
		if (parent >= 0 || errno != ENOENT) {
			missing = slash + 1;
			break;
		}
		missing = slash;
	}
	if (parent < 0)
		return -1;
	for (char *comp = missing;;) {
		char *slash = strchr(comp, '/');
		if (slash)
			*slash = 0;
		if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			close(parent);
			errno = e;
			return -1;
		}
		fd = open_in_root(buf, O_PATH | O_DIRECTORY, 0);
		int e = errno;
		close(parent);
		if (fd < 0) {
			errno = e;
			return -1;
		}
		if (!slash)
			return fd;
		*slash = '/';
		parent = fd;
		comp = slash + 1;
	}
}

// in_root_join resolves dst (absolute, clean) inside the root as filepath-securejoin does for
// libcontainer: every symlink met, a dangling one included, is replaced by its target, read
// relative to the root, and ".." never climbs above the root. Where dst exists it names what
// RESOLVE_IN_ROOT finds; where it does not, the path that creating it through the image's
// symlinks makes (a systemd image's /etc/resolv.conf -> ../run/systemd/resolve/...). The
// result is only a path: it is opened with RESOLVE_IN_ROOT again, so it can never lead out.
static int in_root_join(const char *dst, char *out, size_t cap)
{
	char rest[2 * PATH_MAX], done[PATH_MAX], target[PATH_MAX], comp[NAME_MAX + 1];
	done[0] = 0;
	if (snprintf(rest, sizeof(rest), "%s", dst) >= (int)sizeof(rest)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int links = 0;
	for (char *p = rest; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = strchrnul(p, '/');
		size_t len = end - p;
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = 0;
		p = end;
		if (eq(comp, "."))
			continue;
		if (eq(comp, "..")) {
			char *s = strrchr(done, '/');
			if (s)
				*s = 0;
			continue;
		}
		size_t dl = strlen(done);
		if (dl + 1 + len >= sizeof(done)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		done[dl] = '/';
		memcpy(done + dl + 1, comp, len + 1);
		// The components before this one are directories or missing, never links: the
		// kernel follows none on the way.
		ssize_t n = readlinkat(rootfd, done + 1, target, sizeof(target) - 1);
		if (n < 0) {
			if (errno == EINVAL || errno == ENOENT || errno == ENOTDIR)
				continue; // not a link, or missing: kept as it is
			return -1;
		}
		target[n] = 0;
		if (++links > 255) {
			errno = ELOOP;
			return -1;
		}
		done[dl] = 0; // the link's directory, or the root for an absolute target
		if (target[0] == '/')
			done[0] = 0;
		char next[2 * PATH_MAX];
		if (snprintf(next, sizeof(next), "%s/%s", target, p) >= (int)sizeof(next)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(rest, next, strlen(next) + 1);
		p = rest;
	}
	if (snprintf(out, cap, "%s", done[0] ? done : "/") >= (int)cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

// missing_leaf is the common case of a mountpoint to create: dst's parent is there with no
// symlink on the way (RESOLVE_NO_SYMLINKS) and dst itself is not there at all, not even as a
// dangling symlink, so that dst is what in_root_join would name, with one lookup of the parent
// instead of one per component. It returns the parent's descriptor and points *name at dst's
// last component; -1 otherwise, for the general way.
static int missing_leaf(const char *dst, const char **name)
{
	const char *slash = strrchr(dst, '/');
	char parent[PATH_MAX];
	if (!slash || !slash[1] || snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dst), dst) >= (int)sizeof(parent))
		return -1;
	int fd = open_in_root(parent[0] == '/' ? parent + 1 : parent, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstatat(fd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
		close(fd);
		return -1;
	}
	*name = slash + 1;
	return fd;
}

// mkdir_parent opens the parent directory of dst inside the root (created as mkdir_all does)
// and points *name at dst's last component.
static int mkdir_parent(const char *dst, const char **name)
{
	const char *slash = strrchr(dst, '/');
	*name = slash + 1;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dst), dst);
	if (!parent[0])
		return open_in_root("", O_PATH | O_DIRECTORY, 0);
	return mkdir_all(parent, NULL);
}

// create_mountpoint makes the missing mountpoint dst inside the root, a directory or (isdir 0)
// an empty file, where libcontainer's createOpenMountpoint makes it: at the path in_root_join
// names, missing directories made on the way; and opens it. The common case, only the last
// component missing under a parent reached without a symlink, needs no in_root_join
// (missing_leaf). *existed (if not NULL) says whether a directory was there after all.
static int create_mountpoint(const char *dst, int isdir, int *existed)
{
	const char *name;
	char joined[PATH_MAX];
	int dir = missing_leaf(dst, &name);
	if (dir < 0) {
		if (in_root_join(dst, joined, sizeof(joined)) < 0)
			return -1;
		if (isdir)
			return mkdir_all(joined, existed);
		if (eq(joined, "/")) {
			errno = EEXIST;
			return -1;
		}
		if ((dir = mkdir_parent(joined, &name)) < 0)
			return -1;
	} else if (existed) {
		*existed = 0;
	}
	int fd = -1;
	if (!isdir)
		fd = openat(dir, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	else if (mkdirat(dir, name, 0755) == 0 || errno == EEXIST)
		fd = open_in_root(dst + 1, O_PATH | O_DIRECTORY, 0);
	int e = errno;
	close(dir);
	errno = e;
	return fd;
}

// fd_path reads the path of fd, as the kernel resolved it, into out.
static int fd_path(int fd, char *out, size_t cap)
{
	char p[32];
	ssize_t n = readlink(procfd(fd, p), out, cap - 1);
	if (n < 0)
		return -1;
	if ((size_t)n >= cap - 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	out[n] = 0;
	return 0;
}

// The paths under /proc a mount may go on (libcontainer's checkProcMount: lxcfs's files).
static const char *valid_proc_mounts[] = {
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
	"/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
};

// check_target is createOpenMountpoint's check of the resolved mountpoint fd: inside the root,
// not the root itself, not under /proc unless libcontainer allows it. rel gets the resolved
// path, relative to the root ("/x/y").
static void check_target(int fd, const struct op *o, char *rel, size_t cap)
{
	char full[PATH_MAX];
	struct stat st;
	if (fd_path(fd, full, sizeof(full)) < 0 || fstat(fd, &st) < 0)
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": get mount destination real path: %s",
			   o->src ? o->src : "", o->dst, hako_goerr(errno));
	if ((st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) || eq(full, root_path))
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": mountpoint \"%s\" is on the top of rootfs \"%s\"",
			   o->src ? o->src : "", o->dst, full, root_path);
	if (strncmp(full, root_path, root_len) != 0 || full[root_len] != '/')
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": mountpoint \"%s\" is outside of rootfs \"%s\"",
			   o->src ? o->src : "", o->dst, full, root_path);
	snprintf(rel, cap, "%s", full + root_len);
	if (eq(rel, "/proc")) {
		if (o->kind == OP_FS && eq(o->type, "proc"))
			return;
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": \"%s\" cannot be mounted because it is not of type proc",
			   o->src ? o->src : "", o->dst, full);
	}
	if (has_prefix(rel, "/proc/")) {
		for (size_t k = 0; k < sizeof(valid_proc_mounts) / sizeof(valid_proc_mounts[0]); k++)
			if (eq(rel, valid_proc_mounts[k]))
				return;
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": \"%s\" cannot be mounted because it is inside /proc",
			   o->src ? o->src : "", o->dst, full);
	}
}

// reopen_target opens the mount just made at rel (a resolved path: no symlink in it) and
// checks it is the same path (libcontainer's reopenAfterMount).
static int reopen_target(const struct op *o, const char *rel)
{
	char want[PATH_MAX], got[PATH_MAX];
	int fd = open_in_root(rel + 1, O_PATH, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": reopen mountpoint after mount: %s",
			   o->src ? o->src : "", o->dst, hako_goerr(errno));
	snprintf(want, sizeof(want), "%s%s", root_path, rel);
	if (fd_path(fd, got, sizeof(got)) < 0 || !eq(got, want))
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": mountpoint \"%s\" was moved while re-opening",
			   o->src ? o->src : "", o->dst, rel);
	return fd;
}

// mount_flags names flags as libcontainer's stringifyMountFlags does.
static const char *mount_flags(unsigned long flags)
{
	static const struct { const char *name; unsigned long bits; } names[] = {
		{"MS_RDONLY", MS_RDONLY}, {"MS_NOSUID", MS_NOSUID}, {"MS_NODEV", MS_NODEV},
		{"MS_NOEXEC", MS_NOEXEC}, {"MS_SYNCHRONOUS", MS_SYNCHRONOUS}, {"MS_REMOUNT", MS_REMOUNT},
		{"MS_MANDLOCK", MS_MANDLOCK}, {"MS_DIRSYNC", MS_DIRSYNC}, {"MS_NOSYMFOLLOW", MS_NOSYMFOLLOW},
		{"MS_NOATIME", MS_NOATIME}, {"MS_NODIRATIME", MS_NODIRATIME}, {"MS_BIND", MS_BIND},
		{"MS_MOVE", MS_MOVE}, {"MS_REC", MS_REC}, {"MS_SILENT", MS_SILENT},
		{"MS_POSIXACL", MS_POSIXACL}, {"MS_UNBINDABLE", MS_UNBINDABLE}, {"MS_PRIVATE", MS_PRIVATE},
		{"MS_SLAVE", MS_SLAVE}, {"MS_SHARED", MS_SHARED}, {"MS_RELATIME", MS_RELATIME},
		{"MS_I_VERSION", MS_I_VERSION}, {"MS_STRICTATIME", MS_STRICTATIME}, {"MS_LAZYTIME", MS_LAZYTIME},
	};
	static char buf[512];
	size_t n = 0;
	unsigned long seen = 0;
	buf[0] = 0;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if ((flags & names[k].bits) == names[k].bits) {
			seen |= names[k].bits;
			if (n < sizeof(buf))
				n += snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "|" : "", names[k].name);
		}
	if ((flags & ~seen) && n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, "%s%#lx", n ? "|" : "", flags & ~seen);
	return buf;
}

static void mount_fail(const struct op *o, const char *src, const char *fdp, unsigned long flags, const char *data, int e)
{
	hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": mount %s%s%sdst=%s, dstFd=%s, flags=%s%s%s: %s",
		   o->src ? o->src : "", o->dst, src && *src ? "src=" : "", src && *src ? src : "", src && *src ? ", " : "",
		   o->dst, fdp, mount_flags(flags), data && *data ? ", data=" : "", data && *data ? data : "", hako_goerr(e));
}

static void propagate(const struct op *o, int fd)
{
	char p[32];
	for (int k = 0; k < o->npflags; k++)
		if (mount("", procfd(fd, p), "", o->pflags[k], "") < 0)
			hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": change mount propagation through procfd: mount dst=%s, dstFd=%s, flags=%s: %s",
				   o->src ? o->src : "", o->dst, o->dst, p, mount_flags(o->pflags[k]), hako_goerr(errno));
}

// statfs_flags is libcontainer's statfsToMountFlags.
static unsigned long statfs_flags(const struct statfs *st)
{
	static const struct { unsigned long st, ms; } m[] = {
		{ST_RDONLY, MS_RDONLY}, {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
		{ST_MANDLOCK, MS_MANDLOCK}, {ST_SYNCHRONOUS, MS_SYNCHRONOUS}, {ST_NOATIME, MS_NOATIME},
		{ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME}, {ST_NOSYMFOLLOW, MS_NOSYMFOLLOW},
	};
	unsigned long flags = 0;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++)
		if ((st->f_flags & m[k].st) == m[k].st)
			flags |= m[k].ms;
	if (!(flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)))
		flags |= MS_STRICTATIME;
	return flags;
}

#define ATIME_FLAGS (MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME)
#define LOCK_FLAGS (MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID | ATIME_FLAGS)

static void op_fs(const struct op *o)
{
	char rel[PATH_MAX], p[32];
	int proc_like = eq(o->type, "proc") || eq(o->type, "sysfs");
	int fd = -1, existed = 0;
	if (proc_like) {
		// procfs and sysfs go on an ordinary directory or nowhere (a symlink there is an
		// attack, not a path to follow).
		struct stat st;
		fd = open_in_root(o->dst + 1, O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
		if (fd >= 0) {
			if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
				hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": filesystem \"%s\" must be mounted on ordinary directory",
					   o->src ? o->src : "", o->dst, o->type);
			existed = 1; // the mountpoint: no symlink on the way
		} else if (errno != ENOENT) {
			hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": %s", o->src ? o->src : "", o->dst, hako_goerr(errno));
		}
	} else {
		// A directory that exists is what RESOLVE_IN_ROOT finds, which is also what
		// in_root_join names (without a lookup per component).
		fd = open_in_root(o->dst + 1, O_PATH | O_DIRECTORY, 0);
		existed = fd >= 0;
	}
	if (fd < 0)
		fd = create_mountpoint(o->dst, 1, &existed);
	if (fd < 0)
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": create mountpoint for %s mount: make mountpoint \"%s\": %s",
			   o->src ? o->src : "", o->dst, o->dst, o->dst, hako_goerr(errno));
	check_target(fd, o, rel, sizeof(rel));
	const char *data = o->data ? o->data : "";
	char *dt = NULL;
	if (existed && eq(o->type, "tmpfs")) {
		// A tmpfs takes the mode of the directory it covers (createOpenMountpoint).
		struct stat st;
		if (fstat(fd, &st) < 0)
			hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": check tmpfs source mode: %s", o->src ? o->src : "", o->dst, hako_goerr(errno));
		dt = malloc(strlen(data) + 16);
		if (!dt)
			hako_sfail(125, "out of memory");
		sprintf(dt, "mode=%04o%s%s", st.st_mode & 07777, *data ? "," : "", data);
		data = dt;
	}
	if (mount(o->src ? o->src : "", procfd(fd, p), o->type, o->flags, data) < 0)
		mount_fail(o, o->src, p, o->flags, data, errno);
	free(dt);
	close(fd);
	// The mount, reopened for its propagation (libcontainer's reopenAfterMount): only when
	// there is some to set, as nothing else uses it.
	if (o->npflags) {
		fd = reopen_target(o, rel);
		propagate(o, fd);
		close(fd);
	}
}

static void op_bind(const struct op *o)
{
	char rel[PATH_MAX], p[32], sp[32];
	struct stat sst, dst;
	int src = open(o->src, O_PATH | O_CLOEXEC);
	if (src < 0 || fstat(src, &sst) < 0)
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": create mountpoint for %s mount: stat %s: %s",
			   o->src, o->dst, o->dst, o->src, hako_goerr(errno));
	int isdir = S_ISDIR(sst.st_mode);
	int fd = open_in_root(o->dst + 1, O_PATH, 0);
	if (fd < 0 && errno == ENOENT)
		fd = create_mountpoint(o->dst, isdir, NULL);
	if (fd < 0)
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": create mountpoint for %s mount: make mountpoint \"%s\": %s",
			   o->src, o->dst, o->dst, o->dst, hako_goerr(errno));
	if (fstat(fd, &dst) < 0)
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": %s", o->src, o->dst, hako_goerr(errno));
	if (!S_ISDIR(dst.st_mode) && !S_ISREG(dst.st_mode))
		hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": mountpoint \"%s\" is neither a directory nor a regular file",
			   o->src, o->dst, o->dst);
	check_target(fd, o, rel, sizeof(rel));
	unsigned long flags = MS_BIND | (o->flags & MS_REC);
	if (mount(procfd(src, sp), procfd(fd, p), NULL, flags, NULL) < 0)
		mount_fail(o, o->src, p, flags, NULL, errno);
	close(fd);
	if (!o->npflags && !(o->seen & F_REMOUNT)) {
		close(src);
		return;
	}
	fd = reopen_target(o, rel);
	propagate(o, fd);
	if (o->seen & F_REMOUNT) {
		// mount --bind -o ...: exactly the flags asked; where some are locked (the source's
		// nosuid, nodev...), again with the source's locked flags (libcontainer's fallback).
		unsigned long rf = o->remount | MS_BIND | MS_REMOUNT;
		procfd(fd, p);
		if (mount("", p, "", rf, "") < 0) {
			int e = errno;
			struct statfs sf;
			if (fstatfs(src, &sf) < 0)
				hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": failed to set user-requested vfs flags on bind-mount: statfs %s: %s",
					   o->src, o->dst, o->src, hako_goerr(errno));
			unsigned long srcflags = statfs_flags(&sf);
			if ((o->remount & ATIME_FLAGS) && (o->remount & ATIME_FLAGS) != (srcflags & ATIME_FLAGS))
				hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": failed to set user-requested vfs flags on bind-mount: cannot change locked atime flags: mount dst=%s, dstFd=%s, flags=%s: %s",
					   o->src, o->dst, o->dst, p, mount_flags(rf), hako_goerr(e));
			rf |= srcflags & LOCK_FLAGS;
			if (mount("", p, "", rf, "") < 0)
				hako_sfail(125, "error mounting \"%s\" to rootfs at \"%s\": failed to set user-requested vfs flags on bind-mount: remount with locked flags re-applied: mount dst=%s, dstFd=%s, flags=%s: %s",
					   o->src, o->dst, o->dst, p, mount_flags(rf), hako_goerr(errno));
		}
	}
	close(fd);
	close(src);
}

static void op_mknod(const struct op *o)
{
	const char *name;
	int parent = mkdir_parent(o->dst, &name);
	if (parent < 0)
		hako_sfail(125, "configuring container /dev: error creating device nodes: mkdir parent of device inode \"%s\": %s",
			   o->dst, hako_goerr(errno));
	dev_t dev = makedev(o->major, o->minor);
	if (mknodat(parent, name, o->mode, dev) < 0) {
		if (errno == EEXIST) { // kept as it is, as libcontainer does
			close(parent);
			return;
		}
		hako_sfail(125, "configuring container /dev: error creating device nodes: mknodat %s: %s", o->dst, hako_goerr(errno));
	}
	int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		hako_sfail(125, "configuring container /dev: error creating device nodes: open new device inode %s: %s", o->dst, hako_goerr(errno));
	if ((st.st_mode & S_IFMT) != (o->mode & S_IFMT) || ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && st.st_rdev != dev))
		hako_sfail(125, "configuring container /dev: error creating device nodes: new device inode %s has incorrect ftype or major:minor", o->dst);
	char p[32];
	if (chmod(procfd(fd, p), o->mode & 07777) < 0)
		hako_sfail(125, "configuring container /dev: error creating device nodes: update new device inode %s file mode: %s", o->dst, hako_goerr(errno));
	if (fchownat(fd, "", o->uid, o->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		hako_sfail(125, "configuring container /dev: error creating device nodes: update new device inode %s owner: %s", o->dst, hako_goerr(errno));
	close(fd);
	close(parent);
}

static void op_symlink(const struct op *o)
{
	const char *name;
	int parent = mkdir_parent(o->dst, &name);
	if (parent < 0)
		hako_sfail(125, "configuring container /dev: symlink %s: %s", o->dst, hako_goerr(errno));
	if (symlinkat(o->target, parent, name) < 0 && errno != EEXIST)
		hako_sfail(125, "configuring container /dev: symlinkat %s: %s", o->dst, hako_goerr(errno));
	close(parent);
}

static void op_unlink(const struct op *o)
{
	const char *slash = strrchr(o->dst, '/');
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - o->dst) - 1 > 0 ? (int)(slash - o->dst) - 1 : 0, o->dst + 1);
	int fd = open_in_root(parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		hako_sfail(125, "configuring container /dev: unlink %s: %s", o->dst, hako_goerr(errno));
	}
	if (unlinkat(fd, slash + 1, 0) < 0 && errno != ENOENT)
		hako_sfail(125, "configuring container /dev: unlinkat %s: %s", o->dst, hako_goerr(errno));
	close(fd);
}

// ---- I: the container's init -------------------------------------------------------------------

static int is_dev_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

// pivot_root exactly as libcontainer's pivotRoot.
static void pivot(void)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_PATH | O_CLOEXEC);
	if (oldroot < 0)
		hako_sfail(125, "error jailing process inside rootfs: open /: %s", hako_goerr(errno));
	if (fchdir(rootfd) < 0)
		hako_sfail(125, "error jailing process inside rootfs: chdir %s: %s", root_path, hako_goerr(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		hako_sfail(125, "error jailing process inside rootfs: pivot_root .: %s", hako_goerr(errno));
	if (fchdir(oldroot) < 0)
		hako_sfail(125, "error jailing process inside rootfs: fchdir fd %d: %s", oldroot, hako_goerr(errno));
	if (mount("", ".", "", MS_SLAVE | MS_REC, "") < 0)
		hako_sfail(125, "error jailing process inside rootfs: mount dst=., flags=MS_SLAVE|MS_REC: %s", hako_goerr(errno));
	if (umount2(".", MNT_DETACH) < 0)
		hako_sfail(125, "error jailing process inside rootfs: unmount dst=., flags=MNT_DETACH: %s", hako_goerr(errno));
	if (chdir("/") < 0)
		hako_sfail(125, "error jailing process inside rootfs: chdir /: %s", hako_goerr(errno));
	close(oldroot);
	close(rootfd);
	rootfd = -1;
}

// late_remount is libcontainer's remountReadonly, after pivot_root: path (inside the container,
// which is now the root) remounted with flags | MS_REMOUNT, retried on EBUSY.
static void late_remount(const char *path, unsigned long flags)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0)
		hako_sfail(125, "remount %s read-only: %s", path, hako_goerr(errno));
	char p[32];
	procfd(fd, p);
	flags |= MS_REMOUNT;
	for (int i = 0;; i++) {
		if (mount("", p, "", flags, "") == 0)
			break;
		if (errno != EBUSY)
			hako_sfail(125, "mount dst=%s, dstFd=%s, flags=%s: %s", path, p, mount_flags(flags), hako_goerr(errno));
		if (i == 4)
			hako_sfail(125, "unable to mount %s as readonly max retries reached", path);
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	close(fd);
}

// mkdir_p is os.MkdirAll(path, 0755), inside the jail, with its errors: the first component
// that exists and is not a directory is the one named.
static void mkdir_p(const char *path)
{
	struct stat st;
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1;; s++) {
		if (*s != '/' && *s != 0)
			continue;
		char c = *s;
		*s = 0;
		if (stat(buf, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				hako_sfail(125, "mkdir %s: not a directory", buf);
		} else if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
			hako_sfail(125, "mkdir %s: %s", buf, hako_goerr(errno));
		}
		if (!c)
			break;
		*s = c;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		hako_sfail(125, "mkdir %s: not a directory", path);
}

static void write_sysctls(const struct start *s)
{
	if (!s->nsysctl)
		return;
	int dir = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct statfs sf;
	if (dir < 0 || fstatfs(dir, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		hako_sfail(125, "open /proc/sys: %s", dir < 0 ? hako_goerr(errno) : "not a procfs");
	for (int k = 0; k < s->nsysctl; k++) {
		char key[PATH_MAX];
		const char *kv = s->sysctl[k], *val = strchr(kv, '=') + 1;
		snprintf(key, sizeof(key), "%.*s", (int)(val - 1 - kv), kv);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s", key);
		for (char *c = path; *c; c++)
			if (*c == '.')
				*c = '/';
		struct open_how how = {
			.flags = O_WRONLY | O_TRUNC | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		int fd = syscall(SYS_openat2, dir, path, &how, sizeof(how));
		if (fd < 0)
			hako_sfail(125, "open sysctl %s file: openat2 /proc/sys/%s: %s", key, path, hako_goerr(errno));
		if (hako_write_all(fd, val, strlen(val)) < 0)
			hako_sfail(125, "failed to write sysctl %s = \"%s\": write /proc/sys/%s: %s", key, val, path, hako_goerr(errno));
		close(fd);
	}
	close(dir);
}

// readonly_path is libcontainer's readonlyPath.
static void readonly_path(const char *path)
{
	if (mount(path, path, "", MS_BIND | MS_REC, "") < 0) {
		if (errno == ENOENT)
			return;
		hako_sfail(125, "can't make \"%s\" read-only: mount src=%s, dst=%s, flags=MS_BIND|MS_REC: %s", path, path, path, hako_goerr(errno));
	}
	struct statfs sf;
	if (statfs(path, &sf) < 0)
		hako_sfail(125, "can't make \"%s\" read-only: statfs %s: %s", path, path, hako_goerr(errno));
	unsigned long flags = (sf.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)) | MS_BIND | MS_REMOUNT | MS_RDONLY;
	if (mount(path, path, "", flags, "") < 0)
		hako_sfail(125, "can't make \"%s\" read-only: mount src=%s, dst=%s, flags=%s: %s", path, path, path, mount_flags(flags), hako_goerr(errno));
}

// mask_paths is runc 1.5.3's maskPaths: /dev/null (the container's, checked) bound over a
// file, a read-only tmpfs over a directory, that tmpfs bound over the next directories.
static void mask_paths(const struct start *s)
{
	if (!s->nmask)
		return;
	int devnull = open("/dev/null", O_PATH | O_CLOEXEC);
	struct stat st;
	if (devnull < 0)
		hako_sfail(125, "can't mask paths: open /dev/null: %s", hako_goerr(errno));
	if (fstat(devnull, &st) < 0 || !is_dev_null(&st))
		hako_sfail(125, "can't mask paths: container's /dev/null is invalid");
	int shared = -1, bind_failed = 0;
	char np[32], dp[32], sp[32];
	procfd(devnull, np);
	for (int k = 0; k < s->nmask; k++) {
		const char *path = s->mask[k];
		int dup = 0;
		for (int j = 0; j < k && !dup; j++)
			dup = eq(s->mask[j], path);
		if (dup)
			continue;
		int fd = open(path, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			hako_sfail(125, "can't mask path \"%s\": open %s: %s", path, path, hako_goerr(errno));
		}
		if (fstat(fd, &st) < 0)
			hako_sfail(125, "can't mask path \"%s\": %s", path, hako_goerr(errno));
		procfd(fd, dp);
		if (S_ISDIR(st.st_mode)) {
			if (!bind_failed && shared >= 0) {
				if (mount(procfd(shared, sp), dp, "", MS_BIND, "") == 0)
					goto next;
				bind_failed = 1; // back to a tmpfs for each
			}
			if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "nr_blocks=1,nr_inodes=1") < 0 &&
			    mount("tmpfs", path, "tmpfs", MS_RDONLY, "nr_blocks=1,nr_inodes=2") < 0)
				hako_sfail(125, "can't mask dir \"%s\": mount src=tmpfs, dst=%s, flags=MS_RDONLY, data=nr_blocks=1,nr_inodes=1: %s",
					   path, path, hako_goerr(errno));
			if (!bind_failed && shared < 0) {
				char full[PATH_MAX];
				if (fd_path(fd, full, sizeof(full)) < 0 || (shared = open(full, O_PATH | O_CLOEXEC | O_NOFOLLOW)) < 0)
					hako_sfail(125, "can't reopen shared directory mask: %s", hako_goerr(errno));
			}
		} else if (mount(np, dp, "", MS_BIND, "") < 0) {
			hako_sfail(125, "can't mask path \"%s\": mount dst=%s, dstFd=%s, flags=MS_BIND: %s", path, path, dp, hako_goerr(errno));
		}
	next:
		close(fd);
	}
	if (shared >= 0)
		close(shared);
	close(devnull);
}

static void join_keyring(const char *name)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);
	if (id < 0) {
		if (errno == ENOSYS) // best effort, as libcontainer
			return;
		hako_sfail(125, "unable to join session keyring: unable to create session key: %s", hako_goerr(errno));
	}
	// keys.ModKeyringPerm(id, 0xffffffff, 0x80000): searchable by its possessor's UID.
	char desc[512];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof(desc));
	if (n < 0)
		hako_sfail(125, "unable to mod keyring permissions: %s", hako_goerr(errno));
	if (n >= (long)sizeof(desc))
		n = sizeof(desc) - 1;
	desc[n] = 0;
	char *f = desc;
	for (int k = 0; k < 3 && f; k++)
		if ((f = strchr(f, ';')))
			f++;
	if (!f || !strchr(f, ';'))
		hako_sfail(125, "unable to mod keyring permissions: Destination buffer for key description is too small");
	unsigned long perm = strtoul(f, NULL, 16);
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, (perm & 0xffffffffUL) | 0x80000) < 0)
		hako_sfail(125, "unable to mod keyring permissions: %s", hako_goerr(errno));
}

static void loopback_up(void)
{
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		hako_sfail(125, "unable to bring up the loopback interface: %s", hako_goerr(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
		hako_sfail(125, "unable to bring up the loopback interface: %s", hako_goerr(errno));
	close(sk);
}

struct init_args {
	struct start *s;
	int lastcap;
	int cg2; // the v2 cgroup's directory I was cloned into (-1: none), S's to close
	int boosted, nice; // S's nice value was lowered from nice (hako_faststart)
};

static int init_main(void *arg)
{
	struct init_args *ia = arg;
	struct start *s = ia->s;
	snprintf(hako_prefix, sizeof(hako_prefix), "unable to start container process: error during container init: ");
	close(PROFILE_FD);
	hako_cg_child(ia->cg2);
	// PID_FD stays: the init says on it that it is ready to exec the command, and waits for
	// the word to do it on GO_FD (hako_finalize).

	// nsexec's stage-2.
	if (setsid() < 0)
		hako_sfail(125, "setsid failed: %s", hako_goerr(errno));
	if (setuid(0) < 0 || setgid(0) < 0 || setgroups(0, NULL) < 0)
		hako_sfail(125, "setuid, setgid or setgroups failed: %s", hako_goerr(errno));

	// libcontainer's standard init, in its order.
	if (s->p.keyring)
		join_keyring(s->p.keyring);
	if (s->lo)
		loopback_up();

	// prepareRoot: "/" gets the configured propagation or rslave; the rootfs's parent mount
	// becomes a slave only if that was asked, else private (rootfsParentMountPropagationFlags
	// of the configured value), so that nothing mounted on the host under the rootfs later
	// reaches the container.
	unsigned long rootflag = s->rootprop ? s->rootprop : MS_SLAVE | MS_REC;
	if (mount("", "/", "", rootflag, "") < 0)
		hako_sfail(125, "error preparing rootfs: mount dst=/, flags=%s: %s", mount_flags(rootflag), hako_goerr(errno));
	unsigned long parentprop = (s->rootprop & MS_SLAVE) ? MS_SLAVE : MS_PRIVATE;
	char up[PATH_MAX];
	snprintf(up, sizeof(up), "%s", s->rootfs);
	for (;;) { // rootfsParentMountPropagation: the mount the rootfs is on
		if (mount("", up, "", parentprop, "") == 0)
			break;
		if (errno != EINVAL || eq(up, "/"))
			hako_sfail(125, "error preparing rootfs: remount-propagation dst=%s, flags=%s: %s", up, mount_flags(parentprop), hako_goerr(errno));
		char *sl = strrchr(up, '/');
		if (sl == up)
			sl[1] = 0;
		else
			*sl = 0;
	}
	if (mount(s->rootfs, s->rootfs, "bind", MS_BIND | MS_REC, "") < 0)
		hako_sfail(125, "error preparing rootfs: mount src=%s, dst=%s, flags=MS_BIND|MS_REC: %s", s->rootfs, s->rootfs, hako_goerr(errno));
	rootfd = open(s->rootfs, O_DIRECTORY | O_CLOEXEC | O_PATH);
	if (rootfd < 0 || fstat(rootfd, &root_st) < 0 || fd_path(rootfd, root_path, sizeof(root_path)) < 0)
		hako_sfail(125, "open rootfs handle: %s", hako_goerr(errno));
	root_len = strlen(root_path);

	// The mount plan.
	for (int k = 0; k < s->nops; k++) {
		const struct op *o = &s->ops[k];
		switch (o->kind) {
		case OP_FS: op_fs(o); break;
		case OP_BIND: op_bind(o); break;
		case OP_MKNOD: op_mknod(o); break;
		case OP_SYMLINK: op_symlink(o); break;
		case OP_UNLINK: op_unlink(o); break;
		}
	}
	pivot();
	if (s->devnull) { // reOpenDevNull: the host's /dev/null on stdio becomes the container's
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		struct stat st;
		if (null < 0 || fstat(null, &st) < 0)
			hako_sfail(125, "error reopening /dev/null inside container: open /dev/null: %s", hako_goerr(errno));
		if (!is_dev_null(&st))
			hako_sfail(125, "error reopening /dev/null inside container: can't reopen /dev/null: container's /dev/null is invalid");
		for (int fd = 0; fd < 3; fd++) {
			if (fstat(fd, &st) < 0)
				hako_sfail(125, "error reopening /dev/null inside container: fstat fd %d: %s", fd, hako_goerr(errno));
			if (is_dev_null(&st) && dup3(null, fd, 0) < 0)
				hako_sfail(125, "error reopening /dev/null inside container: %s", hako_goerr(errno));
		}
		close(null);
	}
	mkdir_p(s->p.cwd);

	// finalizeRootfs: the tmpfs (and /dev) asked read-only, only now that the working
	// directory is made; then the root.
	for (int k = 0; k < s->nlate; k++)
		late_remount(s->late_dst[k], s->late_flags[k]);
	if (s->rootro) {
		struct statfs sf;
		if (statfs("/", &sf) < 0)
			hako_sfail(125, "error setting rootfs as readonly: statfs /: %s", hako_goerr(errno));
		unsigned long flags = (statfs_flags(&sf) & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW)) | MS_BIND | MS_REMOUNT | MS_RDONLY;
		if (mount("", "/", "", flags, "") < 0)
			hako_sfail(125, "error setting rootfs as readonly: mount dst=/, flags=%s: %s", mount_flags(flags), hako_goerr(errno));
	}
	umask(022);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		hako_sfail(125, "sethostname: %s", hako_goerr(errno));
	if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
		hako_sfail(125, "setdomainname: %s", hako_goerr(errno));
	write_sysctls(s);
	for (int k = 0; k < s->nropath; k++)
		readonly_path(s->ropath[k]);
	mask_paths(s);

	struct hako_final f = {
		.p = &s->p, .cmd = s->args, .cwd = s->p.cwd,
		.lastcap = ia->lastcap, .allow_setgroups = 1,
		.ready_fd = PID_FD, .go_fd = GO_FD,
		.restore_nice = ia->boosted, .nice = ia->nice,
	};
	memcpy(f.caps, s->p.caps, sizeof(f.caps));
	hako_finalize(&f);
}

// hako_start_check is parse_start for startprofile_check.go's test: NULL, or why it refuses buf.
const char *hako_start_check(char *buf, size_t n)
{
	static struct start s;
	return parse_start(buf, n, &s);
}

// ---- S: on the host --------------------------------------------------------------------------

void hako_faststart(void)
{
	for (int fd = 0; fd <= GO_FD; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			fprintf(stderr, "Error: __faststart is hako's own verb\n");
			_exit(125);
		}
	hako_errfd = ERROR_FD;
	snprintf(hako_prefix, sizeof(hako_prefix), "unable to start container process: ");
	if (hako_cloexec(PROFILE_FD, 1) < 0 || hako_cloexec(ERROR_FD, 1) < 0 || hako_cloexec(PID_FD, 1) < 0 ||
	    hako_cloexec(GO_FD, 1) < 0 || syscall(SYS_close_range, GO_FD + 1, ~0U, 0) < 0)
		hako_sfail(125, "start: descriptors: %s", hako_goerr(errno));
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	// S, then I (which inherits it), run five nice levels above the monitor that started
	// them: the container's setup is the start's critical path, and the monitor's own work
	// meanwhile (libcontainer's state, the bundle: encodings of milliseconds) waits for the
	// core rather than it. On two cores, S was seen runnable and not running for 1.5 ms after
	// its plan arrived (perf sched, 2026-11-29). I gives the value back before the container
	// is anything of its own (hako_finalize); where it cannot be lowered (no CAP_SYS_NICE),
	// nothing changes.
	errno = 0;
	int nice0 = getpriority(PRIO_PROCESS, 0);
	int boosted = errno == 0 && setpriority(PRIO_PROCESS, 0, nice0 - 5) == 0;

	char *buf = malloc(START_PROFILE_MAX);
	if (!buf)
		hako_sfail(125, "out of memory");
	// A pipe: to its end entry ("end=1", always the last, and no other entry's tail: a value
	// holds no NUL), or to EOF, which the writer's close brings only later.
	static const char end[] = "\0end=1"; // and its NUL
	size_t n = 0;
	for (;;) {
		ssize_t k = read(PROFILE_FD, buf + n, START_PROFILE_MAX - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			hako_sfail(125, "read the start profile: %s", hako_goerr(errno));
		if (k == 0 || (n += k) == START_PROFILE_MAX)
			break;
		if (n >= sizeof(end) && memcmp(buf + n - sizeof(end), end, sizeof(end)) == 0)
			break;
	}
	if (n == START_PROFILE_MAX)
		hako_sfail(125, "the start profile is larger than %d bytes", START_PROFILE_MAX);
	static struct start s;
	const char *why = parse_start(buf, n, &s);
	if (why)
		hako_sfail(125, "start profile: %s", why);

	// Everything of the host first: the namespace files, the cgroups, oom_score_adj, rlimits.
	int nsfd[16];
	for (int k = 0; k < s.njoin; k++)
		if ((nsfd[k] = open(s.join_path[k], O_RDONLY | O_CLOEXEC)) < 0)
			hako_sfail(125, "open namespace %s: %s", s.join_path[k], hako_goerr(errno));
	// The v2 cgroup (the unified hierarchy of a hybrid host, or a v2 host's only one) is
	// entered by I's clone (hako_clone_cg) where it can be: a move there always waits out the
	// RCU grace period that hako_host_setup's v1 moves avoid. A new cgroup namespace gets the
	// cgroup I is cloned into as its root (cgroup_post_fork), as it would after a move.
	// Not with a cgroup namespace joined by path (below): the move then comes before it, as
	// the kernel checks the target against the joined namespace's root (nsdelegate).
	int cg2 = -1, cgns_join = 0;
	for (int k = 0; k < s.njoin; k++)
		cgns_join |= eq(s.join_type[k], "cgroup");
	hako_host_setup(&s.p, cgns_join ? NULL : &cg2);
	umask(022);
	struct init_args ia = {.s = &s, .lastcap = hako_last_cap(), .cg2 = cg2, .boosted = boosted, .nice = nice0};

	// The namespaces with a path, in the order the exec path joins them.
	static const char *order[] = {"ipc", "uts", "net", "mnt", "cgroup", "pid"};
	for (int o = 0; o < 6; o++)
		for (int k = 0; k < s.njoin; k++)
			if (eq(s.join_type[k], order[o]) && setns(nsfd[k], ns_flag(order[o])) < 0)
				hako_sfail(125, "join the %s namespace %s: %s", order[o], s.join_path[k], hako_goerr(errno));
	for (int k = 0; k < s.njoin; k++)
		close(nsfd[k]);

	// I: on its own stack, in our memory (CLONE_VM), M its parent. Sharing the memory spares I
	// the page faults of a copy: a child without CLONE_VM faults in again every page of code
	// it runs and every page it writes, about a millisecond on this VM's virtualised MMU.
	// From the clone on, this process touches nothing I uses: only its own stack, and the
	// write of I's PID (errno, in the thread area they share, only if that write fails, when
	// M is gone and I's own writes fail too); then it exits. Its exit must not clear the
	// thread ID in that shared thread area either, as the kernel does for a thread that
	// registered it (glibc's start does): set_tid_address(NULL) first.
	size_t stack_size = 256 << 10;
	char *stack = malloc(stack_size);
	if (!stack)
		hako_sfail(125, "out of memory");
	syscall(SYS_set_tid_address, NULL);
	// No exit signal: clone3 refuses one with CLONE_PARENT, and the child's is the caller's
	// anyway (SIGCHLD, from M's start of S).
	pid_t pid = hako_clone_cg(init_main, stack, stack_size, s.newns | CLONE_PARENT | CLONE_VM, 0, &ia, &ia.cg2);
	if (pid < 0)
		hako_sfail(125, "clone: %s", hako_goerr(errno));
	char msg[32];
	int len = snprintf(msg, sizeof(msg), "%d\n", pid);
	for (int off = 0; off < len;) {
		ssize_t n = write(PID_FD, msg + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(125); // M is gone; I finds that out on its own pipes
		off += n;
	}
	_exit(0);
}

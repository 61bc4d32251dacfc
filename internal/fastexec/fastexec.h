// Declarations shared by fastexec.c (the C path of `hako exec`, docs/exec.md) and start.c (the
// C path of `hako run`, docs/run.md). Everything here but hako_sealed_self is hidden: the two
// files are one piece of the binary, not an API.
#ifndef HAKO_FASTEXEC_H
#define HAKO_FASTEXEC_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HAKO_HIDDEN __attribute__((visibility("hidden")))
#define HAKO_MAX_LIST 256

// The process part of a profile: the keys the exec profile (docs/exec.md) and the start
// profile (docs/run.md) share, and the exec profile's own.
struct profile {
	char *id;
	long pid;
	unsigned long long start;
	char *ns_type[16], *ns_path[16]; // the exec profile's TYPE:PATH (start.c parses its own ns)
	int nns;
	char *cgroups[64];
	int ncgroups;
	char *freezer;
	unsigned long uid, gid;
	gid_t groups[HAKO_MAX_LIST];
	int ngroups;
	char *cwd;
	char **env;
	int nenv;
	int nnp;
	uint64_t caps[5]; // bounding, effective, permitted, inheritable, ambient
	struct { int res; unsigned long long soft, hard; } rlimits[32];
	int nrlimits;
	int has_oom;
	int oom;
	char *keyring;
	int has_seccomp;
	unsigned int seccomp_flags;
	struct sock_filter *filter;
	unsigned short nfilter;
	// Which of the keys were seen.
	int have_pid, have_start, have_caps, have_uid, have_gid;
};

// hako_profile_begin readies p for the entries of buf[0:n] (n bytes, the last a NUL);
// hako_profile_entry parses one entry the two profiles share: 1 if it took it, 0 for a key it
// does not know, -1 for a malformed value.
HAKO_HIDDEN int hako_profile_begin(struct profile *p, const char *buf, size_t n);
HAKO_HIDDEN int hako_profile_entry(struct profile *p, const char *key, char *v);

// The error pipe of a stage: hako_fail writes "CODE\nMESSAGE" on it and exits with CODE;
// hako_sfail does the same with hako_prefix before the message (the words the Go path puts
// before an init's error: "exec in container ID: unable to start container process: " for an
// exec, "unable to start container process: error during container init: " for a start).
HAKO_HIDDEN extern int hako_errfd;
HAKO_HIDDEN extern char hako_prefix[256];
HAKO_HIDDEN __attribute__((noreturn, format(printf, 2, 3))) void hako_fail(int code, const char *fmt, ...);
HAKO_HIDDEN __attribute__((noreturn, format(printf, 2, 3))) void hako_sfail(int code, const char *fmt, ...);
// hako_goerr is Go's text for errno e (a static buffer).
HAKO_HIDDEN const char *hako_goerr(int e);

HAKO_HIDDEN int hako_write_all(int fd, const char *buf, size_t n);
HAKO_HIDDEN ssize_t hako_read_small(const char *path, char *buf, size_t cap);
HAKO_HIDDEN int hako_cloexec(int fd, int on);
HAKO_HIDDEN int hako_last_cap(void);
// hako_clean_abs tells whether p is what Go's filepath.Clean leaves of an absolute path.
HAKO_HIDDEN int hako_clean_abs(const char *p);

// hako_host_setup: oom_score_adj, rlimits, cgroups and CPU affinity, on the host, for the
// process about to enter the container (both stages). With cg2 not NULL, a v2 cgroup is not
// entered but opened into *cg2 (-1: none), for the caller's clone3 (CLONE_INTO_CGROUP).
HAKO_HIDDEN void hako_host_setup(const struct profile *p, int *cg2);

// hako_clone_cg clones fn(arg) on the stack [stack, stack+stack_size) with flags (no exit signal
// bits) and exit_signal, into the v2 cgroup whose directory *cg2 is (hako_host_setup's; -1: no
// such cgroup, a plain clone): with clone3's CLONE_INTO_CGROUP where it can (x86-64), which
// takes the global cgroup lock for reading only; else, after any failure of clone3, the caller
// moves itself there through cgroup.procs (hako_sfail on failure) and clones, *cg2 set to -1
// first. *cg2 is what the child passes to hako_cg_child (read through arg: CLONE_VM); the
// caller's descriptor is closed either way. It returns the PID, or -1 with errno.
HAKO_HIDDEN pid_t hako_clone_cg(int (*fn)(void *), char *stack, size_t stack_size, int flags, int exit_signal, void *arg, int *cg2);
// hako_cg_child, first in hako_clone_cg's child, given *cg2 as it was: closes the child's copy
// of the cgroup's directory (a host directory: never for the container) and asks for all the
// CPUs again, now in the cgroup's cpuset (a kernel before 6.4 kept the parent's mask on
// CLONE_INTO_CGROUP).
HAKO_HIDDEN void hako_cg_child(int cg2);

// The finalization both inits end with, libcontainer's from no_new_privs on: no_new_privs,
// the seccomp filter (before the capabilities without no_new_privs), finalizeNamespace
// (descriptors, working directory, environment, bounding set, user, capabilities), the command
// looked up with Go's LookPath rules, the seccomp filter with no_new_privs, the signals reset,
// execve. It never returns: a failure goes through hako_sfail.
struct hako_final {
	const struct profile *p;
	char **cmd; // the command and its arguments, NULL-terminated
	char **xenv; // KEY=VALUE applied over the profile's env (exec -e), or NULL
	int nxenv;
	const char *cwd; // the working directory
	uint64_t caps[5];
	int lastcap, allow_setgroups;
	// ready_fd and go_fd (start path; -1 for an exec): once the command is found, the
	// process says so with a byte on ready_fd and waits for one on go_fd before it execs it,
	// as libcontainer's init waits on its exec fifo: the command never runs before the
	// monitor has recorded the container, and never if the monitor died meanwhile (EOF on
	// go_fd; or, the word given early, the write on ready_fd fails, as only the monitor holds
	// that pipe's reading end, close-on-exec).
	int ready_fd, go_fd;
	// restore_nice (start path): the init ran at a higher priority than its monitor's
	// (hako_faststart); its command gets nice back first of all.
	int restore_nice, nice;
};
HAKO_HIDDEN __attribute__((noreturn)) void hako_finalize(const struct hako_final *f);

// hako_sealed_self opens this binary through a read-only, detached overlay of its directory
// (an O_PATH descriptor to execute), else as a sealed memfd copy, or returns -1. For the Go
// side too (cgo).
int hako_sealed_self(const char *dummy);

// hako_faststart is the `__faststart` stage (start.c): argv is [any, "__faststart"].
HAKO_HIDDEN __attribute__((noreturn)) void hako_faststart(void);

#endif

// early.c's monitor, started before the Go runtime, for early.go to adopt.
#include <limits.h>

// MONITOR_PLACEHOLDER is engine.monitorIDPlaceholder: 64 dashes.
#define MONITOR_PLACEHOLDER "----------------------------------------------------------------"

struct hako_early {
	int ready, exit, id; // our ends of the pipes; -1: no early monitor
	int pid, detached;
	int exec_errno; // set by the child (vfork) when its execve failed
	char root[PATH_MAX], snapshotter[64], path[PATH_MAX];
};
extern struct hako_early hako_early;

int hako_early_scan(int argc, char **argv);

// Package mallocarena keeps glibc's malloc to one arena in hako's programs, from a C constructor
// that runs before the Go runtime starts its threads. Import it for its side effect.
//
// hako and hako-monitor are cgo programs, so the Go runtime makes its threads with
// pthread_create, and glibc gives each new thread that calls malloc an arena of its own: 128 MiB
// of address space mapped, trimmed and made writable, then faulted in, four times over in a
// `hako version`. On the virtualised MMU hako is measured on (docs/boot.md), that is ~2 ms of
// every command's start, each monitor's and each container init's too. The C side of hako
// allocates a few kilobytes in all (the start and exec paths, the keeper), from one thread at a
// time: one arena is all it needs.
package mallocarena

/*
#include <malloc.h>

__attribute__((constructor)) static void hako_malloc_one_arena(void)
{
	mallopt(M_ARENA_MAX, 1);
}
*/
import "C"

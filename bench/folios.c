// folios FILE: how much of FILE the page cache holds in 2 MiB folios, as a process mapping it
// sees: FILE is mapped read-only at a 2 MiB-aligned address, every page of its whole 2 MiB
// blocks is read, and the mapping's FilePmdMapped (/proc/self/smaps) is printed against its size:
// a block held in one 2 MiB folio is mapped by one page-table entry, anything else 4 KiB (or a
// fault-around's 64 KiB) at a time. bench/run.sh prints it for hako's binaries (docs/run.md,
// "The binaries"). Reading a block the cache lacks brings it back, so run it after a measure.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK (2UL << 20)

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: folios FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(argv[1]);
		return 1;
	}
	size_t len = st.st_size & ~(BLOCK - 1);
	if (len == 0) {
		printf("%s: 0 of 0 MiB in 2 MiB folios\n", argv[1]);
		return 0;
	}
	// An aligned address: reserve a block more, then map the file over its aligned start.
	char *area = mmap(NULL, len + BLOCK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	char *p = (char *)(((unsigned long)area + BLOCK - 1) & ~(BLOCK - 1));
	if (mmap(p, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t o = 0; o < len; o += 4096)
		(void)*(volatile char *)(p + o);
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long pmd = -1;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { // a mapping's first line
			in = lo == (unsigned long)p;
			continue;
		}
		if (in && sscanf(line, "FilePmdMapped: %ld kB", &pmd) == 1)
			break;
	}
	if (pmd < 0) {
		fprintf(stderr, "folios: no FilePmdMapped for the mapping in /proc/self/smaps\n");
		return 1;
	}
	printf("%s: %ld of %zu MiB in 2 MiB folios\n", argv[1], pmd / 1024, len >> 20);
	return 0;
}

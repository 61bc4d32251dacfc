// The monitor's keeper: what stays of a container's monitor while a detached container runs.
//
// Once a detached container runs, its monitor (hako-monitor, a Go program of ~12 MB resident)
// has little left to do: copy the container's stdout and stderr into the json-file log, reap,
// and record the exit. So it execs hako-keeper (this file alone, built as a program of its own:
// see its main at the end), or itself (/proc/self/exe) where there is none, as
//
//   EXE __keep PID LOGPATH MAXSIZE MAXFILE ARG...
//
// and hako-keeper's main, or in the monitor's own binary the constructor at the end of this file
// (before the Go runtime exists: it never starts in the keeper), takes that process, which costs
// a megabyte or less instead. When the container's init has exited and its output is drained,
// the keeper execs the Go monitor back, as `EXE ARG... STATUS`, to record the exit.
//
//   PID      the container's init, already a child of this process (the keeper is the monitor
//            that started it, a child subreaper: orphans of the container come to it too)
//   LOGPATH  the json-file log; MAXSIZE its size in bytes before rotation (<= 0: never rotate);
//            MAXFILE the files kept, the current one included (>= 1), as logs.Options
//   STATUS   the raw wait status of PID, in decimal
//
// Descriptors: 0, 1 and 2 are /dev/null or the monitor's debug stderr; 3 is the monitor lock
// (an flock'd file), which the keeper never touches and keeps open across the final exec; 4 and
// 5 are the read ends of the container's stdout and stderr pipes. The monitor hands these three
// over at other numbers, named in HAKO_KEEPER_FDS=LOCK,STDOUT,STDERR, and the keeper moves them
// to 3, 4 and 5 and closes the rest first (place_fds); without the variable they are there
// already.
//
// The log is written exactly as package logs' Writer writes it (writer.go and record.go are the
// reference, byte for byte; package monitor's tests compare the two): each read is one Write of
// that stream, all its records carry one time and go out in one write(2), a partial line waits
// for its newline (at most 16 KiB of it: more is cut into records of 16 KiB), and the file is
// rotated before a record that would take it past MAXSIZE. As with the Go writer's caller, a
// failed write of the log ends the copy of that stream: the keeper closes its pipe, so that the
// container gets EPIPE rather than blocking once the pipe is full, and goes on with the other.
//
// The one difference, invisible in the files: the records of one read are buffered in at most
// OUT_SIZE bytes, where the Go writer grows its buffer. A read of 64 KiB of newlines makes 4 MB
// of records; the keeper writes them in several write(2)s. The rotation decisions depend only on
// the bytes before a record, written or buffered, so the files come out the same.
//
// Signals: SIGHUP, SIGINT and SIGPIPE get a handler that does nothing (not SIG_IGN: an ignored
// disposition would survive the final exec and reach later containers, a caught one is reset),
// SIGCHLD is blocked and read from a signalfd. The exec back restores the original mask and
// dispositions.
//
// Bad arguments, a PID that is not a child of the keeper (it could never be waited for), and a
// failed exec back end the keeper with status 125 and one line "hako keeper: ..." on stderr.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
	MAX_LINE = 16 * 1024,   // logs.maxLine: the longest line written as one record
	READ_SIZE = 64 * 1024,  // one read of a pipe, one Write of the Go writer
	OUT_SIZE = 128 * 1024,  // the records buffered for one write(2); holds the largest record
	STREAM_STDOUT = 0,
	STREAM_STDERR = 1,
};

static const char *const stream_names[2] = {"stdout", "stderr"};

// ---- records --------------------------------------------------------------------------------

static const char hex[] = "0123456789abcdef";

// hako_keeper_record_max bounds the size of a record: each byte of the line and of the stream
// name escapes to at most 6 ("\u00XX", "\ufffd"), and the members' names, punctuation and a
// time (at most 64 bytes with any int64 second) take less than 128.
size_t hako_keeper_record_max(size_t stream_len, size_t n)
{
	return 6 * (n + stream_len) + 128;
}

// utf8_len returns the length of the UTF-8 sequence that starts at s (n > 0 bytes, s[0] >= 0x80),
// or 0 when Go's utf8.DecodeRune would return (RuneError, 1): a stray continuation byte, an
// overlong encoding, a surrogate, a rune past U+10FFFF or a sequence cut short.
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xBF;
	size_t len;
	if (b >= 0xC2 && b <= 0xDF)
		len = 2;
	else if (b >= 0xE0 && b <= 0xEF) {
		len = 3;
		if (b == 0xE0)
			lo = 0xA0; // overlong below U+0800
		else if (b == 0xED)
			hi = 0x9F; // surrogates U+D800..U+DFFF
	} else if (b >= 0xF0 && b <= 0xF4) {
		len = 4;
		if (b == 0xF0)
			lo = 0x90; // overlong below U+10000
		else if (b == 0xF4)
			hi = 0x8F; // past U+10FFFF
	} else
		return 0; // 0x80..0xC1 (continuation bytes, overlong 2-byte leads), 0xF5..0xFF
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

// append_string quotes s as logs.appendString does: encoding/json with HTML escaping, except
// that controls other than \n and \r become \u00XX and each invalid byte becomes \ufffd.
static char *append_string(char *b, const unsigned char *s, size_t n)
{
	*b++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			if (c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&') {
				*b++ = c;
				continue;
			}
			*b++ = '\\';
			switch (c) {
			case '\\':
			case '"':
				*b++ = c;
				break;
			case '\n':
				*b++ = 'n';
				break;
			case '\r':
				*b++ = 'r';
				break;
			default:
				*b++ = 'u', *b++ = '0', *b++ = '0', *b++ = hex[c >> 4], *b++ = hex[c & 0xF];
			}
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (len == 0) {
			memcpy(b, "\\ufffd", 6);
			b += 6;
			i++;
			continue;
		}
		if (len == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
			// U+2028 and U+2029 end lines in JavaScript.
			memcpy(b, "\\u202", 5);
			b[5] = hex[s[i + 2] - 0xA0];
			b += 6;
			i += 3;
			continue;
		}
		memcpy(b, s + i, len);
		b += len;
		i += len;
	}
	*b++ = '"';
	return b;
}

static char *append_lit(char *b, const char *s)
{
	size_t n = strlen(s);
	memcpy(b, s, n);
	return b + n;
}

// append_int writes x in decimal, zero-padded to width digits, as the time package's appendInt.
static char *append_int(char *b, int64_t x, int width)
{
	uint64_t u = (uint64_t)x;
	if (x < 0) {
		*b++ = '-';
		u = -(uint64_t)x;
	}
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = '0' + u % 10;
		u /= 10;
	} while (u > 0);
	for (; width > n; width--)
		*b++ = '0';
	while (n > 0)
		*b++ = tmp[--n];
	return b;
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
// civil_from_days, which holds for any int64 day).
static void civil(int64_t days, int64_t *y, int *m, int *d)
{
	days += 719468; // from 0000-03-01, so that the leap day ends a year
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	uint64_t doe = (uint64_t)(days - era * 146097);                       // [0, 146096]
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // [0, 399]
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               // [0, 365]
	uint64_t mp = (5 * doy + 2) / 153;                                    // [0, 11] from March
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

// append_time writes sec.nsec (nsec in [0, 1e9)) as Go's time.RFC3339Nano in UTC: the fraction
// without its trailing zeros, and without its dot when it is zero.
static char *append_time(char *b, int64_t sec, long nsec)
{
	int64_t days = sec / 86400, rem = sec % 86400, year;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int month, day;
	civil(days, &year, &month, &day);
	b = append_int(b, year, 4);
	*b++ = '-';
	b = append_int(b, month, 2);
	*b++ = '-';
	b = append_int(b, day, 2);
	*b++ = 'T';
	b = append_int(b, rem / 3600, 2);
	*b++ = ':';
	b = append_int(b, rem / 60 % 60, 2);
	*b++ = ':';
	b = append_int(b, rem % 60, 2);
	if (nsec > 0) {
		char frac[9];
		int n = 9;
		for (int i = 8; i >= 0; i--, nsec /= 10)
			frac[i] = '0' + nsec % 10;
		while (frac[n - 1] == '0')
			n--;
		*b++ = '.';
		memcpy(b, frac, n);
		b += n;
	}
	*b++ = 'Z';
	return b;
}

// hako_keeper_record writes one record and its newline to dst, which has room for
// hako_keeper_record_max(stream_len, n) bytes, and returns its length. The bytes are
// logs.AppendRecord's: the "log" member is left out for an empty line, "stream" for an empty
// stream name.
size_t hako_keeper_record(char *dst, const char *stream, size_t stream_len, const unsigned char *line,
			  size_t n, int64_t sec, long nsec)
{
	char *b = dst;
	*b++ = '{';
	if (n > 0) {
		b = append_lit(b, "\"log\":");
		b = append_string(b, line, n);
		*b++ = ',';
	}
	if (stream_len > 0) {
		b = append_lit(b, "\"stream\":");
		b = append_string(b, (const unsigned char *)stream, stream_len);
		*b++ = ',';
	}
	b = append_lit(b, "\"time\":\"");
	b = append_time(b, sec, nsec);
	b = append_lit(b, "\"}\n");
	return b - dst;
}

// ---- the log writer: logs.Writer in C --------------------------------------------------------

// pending is a stream's partial line, kept until its newline comes; MAX_LINE + 1 bytes hold it
// and the start of the line that completes it (see hako_keeper_log_write).
struct pending {
	size_t len;
	unsigned char line[MAX_LINE + 1];
};

struct hako_keeper_log {
	const char *path;
	int64_t max_size;
	int max_file;

	int fd;       // -1 after a failed open or rotation: the next flush opens the file again
	int64_t size; // of the file, as the Go writer counts it
	int torn;     // the file ends in the middle of a record: start the next one on a new line

	const char *err_op; // the last failure, for messages: "write log" and errno
	int err;

	char *name[2]; // path.N: two, for a rename
	size_t len;    // bytes in buf
	char buf[OUT_SIZE];
	struct pending pending[2];
};

// fail records the failure that errno describes and returns -1.
static int fail(struct hako_keeper_log *w, const char *op)
{
	w->err_op = op;
	w->err = errno;
	return -1;
}

// rotated returns path.i in w->name[k].
static const char *rotated(struct hako_keeper_log *w, int k, int i)
{
	sprintf(w->name[k], "%s.%d", w->path, i);
	return w->name[k];
}

// open_log opens the file for appending and takes its size, as Writer.open.
static int open_log(struct hako_keeper_log *w)
{
	int fd = open(w->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return fail(w, "open log");
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return fail(w, "open log");
	}
	w->fd = fd;
	w->size = st.st_size;
	return 0;
}

// write_all writes all of p, adding what it writes to w->size, and returns -1 on an error.
static int write_all(struct hako_keeper_log *w, const char *p, size_t n, size_t *written)
{
	*written = 0;
	while (n > 0) {
		ssize_t r = write(w->fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		w->size += r;
		*written += r;
		p += r;
		n -= r;
	}
	return 0;
}

// flush writes the buffer to the file and empties it, as Writer.flush.
static int flush(struct hako_keeper_log *w)
{
	if (w->len == 0)
		return 0;
	if (w->fd < 0 && open_log(w) < 0) {
		w->err_op = "write log";
		return -1;
	}
	size_t n;
	if (w->torn) {
		if (write_all(w, "\n", 1, &n) < 0)
			return fail(w, "write log");
		w->torn = 0;
	}
	int r = write_all(w, w->buf, w->len, &n);
	w->len = 0;
	if (r < 0) {
		w->torn = n > 0;
		return fail(w, "write log");
	}
	return 0;
}

// rotate shifts path.N to path.N+1, dropping the oldest, and starts an empty path, as
// Writer.rotate: files are only renamed, never truncated, for readers that have one open.
static int rotate(struct hako_keeper_log *w)
{
	int r = close(w->fd);
	w->fd = -1;
	if (r < 0 && errno != EINTR) // after EINTR the descriptor is closed all the same
		return fail(w, "rotate log");
	if (w->max_file > 1) {
		for (int i = w->max_file - 1; i > 1; i--)
			if (rename(rotated(w, 0, i - 1), rotated(w, 1, i)) < 0 && errno != ENOENT)
				return fail(w, "rotate log");
		if (rename(w->path, rotated(w, 0, 1)) < 0)
			return fail(w, "rotate log");
	} else {
		// Keep no old file, but replace rather than truncate it, for readers that have it open.
		sprintf(w->name[0], "%s.tmp", w->path);
		int fd = open(w->name[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (fd < 0)
			return fail(w, "rotate log");
		close(fd);
		if (rename(w->name[0], w->path) < 0)
			return fail(w, "rotate log");
	}
	if (open_log(w) < 0) {
		w->err_op = "rotate log";
		return -1;
	}
	return 0;
}

// add encodes one record into the buffer, first writing out what is buffered and rotating if
// the record would take the file past MAXSIZE, as Writer.add. A record larger than MAXSIZE gets
// a file of its own.
static int add(struct hako_keeper_log *w, int stream, const unsigned char *line, size_t n, int64_t sec,
	       long nsec)
{
	const char *name = stream_names[stream];
	if (w->len + hako_keeper_record_max(strlen(name), n) > sizeof w->buf && flush(w) < 0)
		return -1; // the one departure from the Go writer: see the top of the file
	size_t start = w->len;
	w->len += hako_keeper_record(w->buf + start, name, strlen(name), line, n, sec, nsec);
	if (w->max_size <= 0 || w->size + (int64_t)w->len <= w->max_size || w->size + (int64_t)start == 0)
		return 0;
	size_t rec = w->len - start;
	w->len = start;
	if (flush(w) < 0 || rotate(w) < 0)
		return -1;
	memmove(w->buf, w->buf + start, rec); // flush leaves the bytes past w->len alone
	w->len = rec;
	return 0;
}

// hako_keeper_log_open opens the log at path (which must outlive the writer: it is not
// copied) as logs.NewWriter does. It returns NULL only when
// it cannot allocate; a log that could not be opened has fd -1 and its error set (see
// hako_keeper_log_error), and the first write tries to open it again.
struct hako_keeper_log *hako_keeper_log_open(const char *path, int64_t max_size, int max_file)
{
	size_t name_size = strlen(path) + 24; // ".%d" of an int, or ".tmp"
	struct hako_keeper_log *w = malloc(sizeof *w + 2 * name_size);
	if (!w)
		return NULL;
	// Not memset: the buffers are touched only as far as they are used, and untouched pages
	// cost no memory.
	w->path = path;
	w->max_size = max_size;
	w->max_file = max_file;
	w->fd = -1;
	w->size = 0;
	w->torn = 0;
	w->err_op = NULL;
	w->err = 0;
	w->name[0] = (char *)(w + 1);
	w->name[1] = w->name[0] + name_size;
	w->len = 0;
	w->pending[0].len = w->pending[1].len = 0;
	if (open_log(w) == 0 && w->size > 0) {
		// A writer killed mid-record leaves a torn line; end it so that the next record is
		// whole. When the last byte cannot be read, a newline too many makes an empty line,
		// which readers skip, where one too few would lose a record.
		char last;
		if (pread(w->fd, &last, 1, w->size - 1) != 1) {
			fail(w, "open log");
			w->torn = 1;
		} else
			w->torn = last != '\n';
	}
	if (max_size > 0) {
		// Files beyond MAXFILE are left over from a larger max-file: the reader would show them.
		// Removed as os.Remove does: a file, or else an empty directory.
		for (int i = max_file; i > 0; i++)
			if (unlink(rotated(w, 0, i)) < 0 && rmdir(w->name[0]) < 0)
				break;
	}
	return w;
}

// hako_keeper_log_write writes what one read of a stream (STREAM_STDOUT or STREAM_STDERR)
// returned, as streamWriter.Write: every complete line becomes a record, and the rest waits
// for its newline. All records carry the time sec.nsec. It returns -1 when the log could not be
// written; the records of this call are then lost, as with the Go writer.
int hako_keeper_log_write(struct hako_keeper_log *w, int stream, const unsigned char *p, size_t n, int64_t sec,
			  long nsec)
{
	struct pending *s = &w->pending[stream];
	int err = 0;
	w->len = 0;
	while (n > 0 && !err) {
		const unsigned char *nl = memchr(p, '\n', n);
		if (!nl) {
			// No newline: the rest waits in pending, cut into records while it is longer
			// than MAX_LINE. (After a failure the rest of p is dropped: the stream ends.)
			while (s->len + n > MAX_LINE && !err) {
				size_t take = MAX_LINE - s->len;
				memcpy(s->line + s->len, p, take);
				p += take, n -= take;
				err = add(w, stream, s->line, MAX_LINE, sec, nsec);
				s->len = 0;
			}
			if (!err) {
				memcpy(s->line + s->len, p, n);
				s->len += n;
			}
			break;
		}
		const unsigned char *line = p;
		size_t len = nl - p + 1;
		p += len, n -= len;
		if (s->len > 0) {
			// The line completes the pending one. The Go writer joins them and cuts the
			// whole into records of MAX_LINE; only the first record can hold pending bytes,
			// and it fits in pending's MAX_LINE + 1.
			if (s->len + len - 1 > MAX_LINE) {
				size_t take = MAX_LINE - s->len;
				memcpy(s->line + s->len, line, take);
				err = add(w, stream, s->line, MAX_LINE, sec, nsec);
				line += take, len -= take;
			} else {
				memcpy(s->line + s->len, line, len);
				line = s->line;
				len += s->len;
			}
		}
		// A line of MAX_LINE bytes and its newline is one record, as in the Go writer.
		while (!err && len - 1 > MAX_LINE) {
			err = add(w, stream, line, MAX_LINE, sec, nsec);
			line += MAX_LINE, len -= MAX_LINE;
		}
		if (!err)
			err = add(w, stream, line, len, sec, nsec);
		s->len = 0;
	}
	if (!err)
		err = flush(w);
	if (err) {
		w->len = 0;
		return -1;
	}
	return 0;
}

// hako_keeper_log_close writes each stream's partial line as a record of its own (stdout
// first), without a newline as Docker does, and closes the file, as Writer.Close. It returns
// -1 if any of it failed; the log is closed all the same.
int hako_keeper_log_close(struct hako_keeper_log *w, int64_t sec, long nsec)
{
	int err = 0;
	w->len = 0;
	for (int i = 0; i < 2; i++)
		if (w->pending[i].len > 0) {
			err |= add(w, i, w->pending[i].line, w->pending[i].len, sec, nsec);
			w->pending[i].len = 0;
		}
	err |= flush(w);
	if (w->fd >= 0) {
		if (close(w->fd) < 0 && errno != EINTR)
			err |= fail(w, "close log");
		w->fd = -1;
	}
	return err ? -1 : 0;
}

// hako_keeper_log_error describes the last failure ("write log PATH: No space left on device")
// in msg; it returns 0 when there was none.
int hako_keeper_log_error(struct hako_keeper_log *w, char *msg, size_t size)
{
	if (!w->err_op)
		return 0;
	snprintf(msg, size, "%s %s: %s", w->err_op, w->path, strerror(w->err));
	return 1;
}

void hako_keeper_log_free(struct hako_keeper_log *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

// ---- the keeper ------------------------------------------------------------------------------

// say writes one line "hako keeper: ..." on stderr, in one write.
static void say(const char *fmt, ...)
{
	char msg[1024];
	int n = snprintf(msg, sizeof msg, "hako keeper: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(msg);
	msg[n++] = '\n';
	write(2, msg, n);
}

#define die(...)                      \
	do {                          \
		say(__VA_ARGS__);     \
		_exit(125);           \
	} while (0)

// parse_int reads a decimal integer, with an optional '-', and nothing else.
static int parse_int(const char *s, int64_t min, int64_t max, int64_t *v)
{
	const char *d = *s == '-' ? s + 1 : s;
	if (*d < '0' || *d > '9')
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

static const int caught[] = {SIGHUP, SIGINT, SIGPIPE};

struct keeper {
	pid_t pid;
	int reaped, status; // PID's raw wait status, once reaped
	int fd[2];          // the stdout and stderr pipes; -1 once at EOF or closed
	int sfd;            // the signalfd for SIGCHLD; -1 if there is none: then poll every second
	struct hako_keeper_log *log;
	sigset_t mask; // the original signal mask
	struct sigaction old[3], old_chld;
	unsigned char *rbuf; // READ_SIZE
	int exe;             // the executable to exec back (place_fds), or -1: /proc/self/exe
};

static void nothing(int sig)
{
	(void)sig;
}

static void take_signals(struct keeper *k)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &k->mask);
	struct sigaction sa = {.sa_handler = nothing, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(caught[i], &sa, &k->old[i]);
	// An ignored SIGCHLD (or SA_NOCLDWAIT) would have the kernel reap the children, and the
	// status of PID would be lost.
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = 0;
	sigaction(SIGCHLD, &sa, &k->old_chld);
	k->sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (k->sfd < 0)
		say("signalfd: %s; polling for the exit every second", strerror(errno));
}

// restore_signals puts back what the keeper found. execve resets a caught signal to SIG_DFL,
// and a fresh process (the keeper's constructor runs right after an exec) has only SIG_DFL and
// SIG_IGN: so only the ignored ones need restoring. The others keep the keeper's handler up to
// the exec, and a SIGHUP in between cannot kill the keeper before it hands over.
static void restore_signals(struct keeper *k)
{
	for (int i = 0; i < 3; i++)
		if (k->old[i].sa_handler != SIG_DFL)
			sigaction(caught[i], &k->old[i], NULL);
	if (k->old_chld.sa_handler != SIG_DFL)
		sigaction(SIGCHLD, &k->old_chld, NULL);
	sigprocmask(SIG_SETMASK, &k->mask, NULL);
}

// reap collects every child that has exited: PID's status is kept, orphans of the container
// that came to the subreaper are discarded.
static void reap(struct keeper *k)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == EINTR)
			continue;
		if (p <= 0)
			return;
		if (p == k->pid) {
			k->status = st;
			k->reaped = 1;
		}
	}
}

// pump reads once from a stream's pipe, after poll said it is readable, into the log.
static void pump(struct keeper *k, int stream)
{
	ssize_t n;
	do
		n = read(k->fd[stream], k->rbuf, READ_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return; // a pipe handed over non-blocking, with nothing after all: poll again
	if (n <= 0) {
		// EOF, or an error that reading again would not cure.
		close(k->fd[stream]);
		k->fd[stream] = -1;
		return;
	}
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	if (hako_keeper_log_write(k->log, stream, k->rbuf, n, t.tv_sec, t.tv_nsec) < 0) {
		char msg[512];
		hako_keeper_log_error(k->log, msg, sizeof msg);
		say("%s; no longer copying %s", msg, stream_names[stream]);
		close(k->fd[stream]);
		k->fd[stream] = -1;
	}
}

static void run(struct keeper *k)
{
	reap(k); // PID may have exited before the exec
	while (!k->reaped || k->fd[0] >= 0 || k->fd[1] >= 0) {
		struct pollfd pfd[3];
		int n = 0, at[2] = {-1, -1};
		for (int i = 0; i < 2; i++)
			if (k->fd[i] >= 0) {
				at[i] = n;
				pfd[n++] = (struct pollfd){.fd = k->fd[i], .events = POLLIN};
			}
		int sat = n;
		if (k->sfd >= 0)
			pfd[n++] = (struct pollfd){.fd = k->sfd, .events = POLLIN};
		if (poll(pfd, n, k->sfd >= 0 ? -1 : 1000) < 0) {
			if (errno != EINTR) // ENOMEM: do not spin
				nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
			continue;
		}
		for (int i = 0; i < 2; i++)
			if (at[i] >= 0 && pfd[at[i]].revents)
				pump(k, i);
		if (k->sfd < 0) {
			reap(k);
		} else if (pfd[sat].revents) {
			struct signalfd_siginfo si;
			while (read(k->sfd, &si, sizeof si) > 0) {
				// Drained: one reap collects every exit, whatever number of signals.
			}
			reap(k);
		}
	}
}

// hand_over ends the keeper: the partial lines go to the log, and the Go monitor comes back as
// `EXE ARG... STATUS` with the lock still on 3.
static void __attribute__((noreturn)) hand_over(struct keeper *k, int argc, char **argv, char **envp)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	if (hako_keeper_log_close(k->log, t.tv_sec, t.tv_nsec) < 0) {
		char msg[512];
		hako_keeper_log_error(k->log, msg, sizeof msg);
		say("%s", msg);
	}
	hako_keeper_log_free(k->log);
	if (k->sfd >= 0)
		close(k->sfd);
	// An orphan that exited while the output drained. One that closes its end of the pipes as
	// it exits can still become a zombie after this: it stays one until the monitor exits (and
	// PID 1 adopts it) or becomes a keeper again after a restart.
	reap(k);
	int fl = fcntl(3, F_GETFD);
	if (fl >= 0 && (fl & FD_CLOEXEC))
		fcntl(3, F_SETFD, fl & ~FD_CLOEXEC);

	char status[16];
	snprintf(status, sizeof status, "%d", k->status);
	char *args[argc - 6 + 3];
	int n = 0;
	args[n++] = argv[0];
	for (int i = 6; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = status;
	args[n] = NULL;
	restore_signals(k);
	if (k->exe >= 0) {
		syscall(SYS_execveat, k->exe, "", args, envp, AT_EMPTY_PATH);
		die("exec the monitor back: %s", strerror(errno));
	}
	execve("/proc/self/exe", args, envp);
	die("exec /proc/self/exe: %s", strerror(errno));
}

// place_fds moves the descriptors that HAKO_KEEPER_FDS=LOCK,STDOUT,STDERR names (the monitor
// hands them over at numbers of its own: package engine, keeper.go) to 3, 4 and 5, closes
// everything else above stdio, and takes the variable out of the environment, so that the Go
// monitor it execs back does not see it.
//
// A fourth, HAKO_KEEPER_FDS=LOCK,STDOUT,STDERR,EXE, is the executable to exec back (an O_PATH
// descriptor of the monitor's binary), for a keeper that runs from a binary of its own
// (hako-keeper): it goes to 6, close-on-exec. Without it the keeper execs /proc/self/exe.
static int place_fds(char **envp)
{
	static const char name[] = "HAKO_KEEPER_FDS=";
	char **v = envp;
	while (*v && strncmp(*v, name, sizeof(name) - 1) != 0)
		v++;
	if (!*v)
		return -1; // already at 3, 4 and 5 (package monitor's tests)
	int fd[4], nfd = 0;
	char *p = *v + sizeof(name) - 1, *end;
	for (;;) {
		long n = strtol(p, &end, 10);
		if (end == p || n < 7 || n > INT32_MAX || (*end != ',' && *end) || nfd == 4)
			die("invalid %s", *v);
		fd[nfd++] = n;
		if (!*end)
			break;
		p = end + 1;
	}
	if (nfd < 3)
		die("invalid %s", *v);
	for (int i = 0; i < nfd; i++)
		if (dup3(fd[i], 3 + i, i == 3 ? O_CLOEXEC : 0) < 0)
			die("descriptor %d: %s", fd[i], strerror(errno));
	if (syscall(SYS_close_range, 3 + nfd, ~0U, 0) < 0)
		for (int i = 0; i < nfd; i++)
			close(fd[i]);
	do // out of the environment: the rest moves down one
		v[0] = v[1];
	while (*v++);
	return nfd == 4 ? 6 : -1;
}

static void __attribute__((noreturn)) keeper(int argc, char **argv, char **envp)
{
	struct keeper k = {.fd = {-1, -1}, .sfd = -1};
	k.exe = place_fds(envp);
	int64_t pid, max_size, max_file;
	if (argc < 7)
		die("usage: __keep PID LOGPATH MAXSIZE MAXFILE ARG...: missing arguments");
	if (parse_int(argv[2], 1, INT32_MAX, &pid) < 0)
		die("invalid PID %s: want a positive decimal number", argv[2]);
	if (!*argv[3])
		die("invalid LOGPATH: empty");
	if (parse_int(argv[4], INT64_MIN, INT64_MAX, &max_size) < 0)
		die("invalid MAXSIZE %s: want a decimal number of bytes", argv[4]);
	if (parse_int(argv[5], 1, INT32_MAX, &max_file) < 0)
		die("invalid MAXFILE %s: want a decimal number, at least 1", argv[5]);
	k.pid = pid;
	// Only a child can be waited for: anything else would keep the container's output
	// copied forever and never hand over.
	siginfo_t si;
	if (waitid(P_PID, k.pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
		die("invalid PID %d: not a child of the keeper", k.pid);

	take_signals(&k);
	for (int i = 0; i < 2; i++) {
		int fl = fcntl(4 + i, F_GETFD);
		if (fl < 0)
			continue; // not open: as if at EOF
		k.fd[i] = 4 + i;
		fcntl(k.fd[i], F_SETFD, fl | FD_CLOEXEC);
	}
	k.log = hako_keeper_log_open(argv[3], max_size, max_file);
	k.rbuf = malloc(READ_SIZE);
	if (!k.log || !k.rbuf)
		die("out of memory");
	char msg[512];
	if (hako_keeper_log_error(k.log, msg, sizeof msg))
		say("%s", msg); // retried at the first write
	run(&k);
	hand_over(&k, argc, argv, envp);
}

// ---- the constructor ---------------------------------------------------------------------------

#ifndef HAKO_KEEPER_MAIN
// It runs in every process of a binary that links this package: anything but `EXE __keep`
// returns at once.
__attribute__((constructor)) static void hako_keeper(int argc, char **argv, char **envp)
{
	if (argc < 2 || strcmp(argv[1], "__keep") != 0)
		return;
	keeper(argc, argv, envp);
}
#else
// hako-keeper: this file alone, as a program of its own (scripts/build.sh). The monitor execs
// it rather than itself when it finds it next to its own binary (package engine, keeper.go):
// a keeper lives as long as its container, and a binary of ~1 MB keeps its resident memory
// small where the page cache maps the monitor's ~20 MB in 2 MiB folios whole.
int main(int argc, char **argv, char **envp)
{
	if (argc < 2 || strcmp(argv[1], "__keep") != 0) {
		fprintf(stderr, "hako-keeper: a container's keeper, started by its monitor; not meant to be run by hand\n");
		return 125;
	}
	keeper(argc, argv, envp);
}
#endif

// runfork.c's state, for runfork.go.
struct hako_early {
	int exit;     // in the forked child: the pipe on which the parent waits for the code; else -1
	int *inherited, ninherited; // in the child: the descriptors above stdio it inherited
};
extern struct hako_early hako_early;

int hako_early_scan(int argc, char **argv);

// runfork.c's state, for runfork.go.
struct hako_runfork {
	int exit;     // in the forked child: the pipe on which the parent waits for the code; else -1
	int *inherited, ninherited; // in the child: the descriptors above stdio it inherited
};
extern struct hako_runfork hako_runfork;

int hako_runfork_scan(int argc, char **argv);

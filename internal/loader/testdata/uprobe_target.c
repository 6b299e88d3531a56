// SPDX-License-Identifier: Apache-2.0
//
// Target of the uprobe tests, built with gcc: waits for a line on stdin,
// then calls ig_pt_fn(argv[1]) and getpid(), and prints both results.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline, noipa)) int ig_pt_fn(int x)
{
	return 3 * x + 1;
}

int main(int argc, char **argv)
{
	char line[16];

	if (argc != 2 || !fgets(line, sizeof(line), stdin))
		return 2;
	printf("%d %d\n", ig_pt_fn(atoi(argv[1])), (int)getpid());
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("vmm-task %s\n", KC_VERSION);
		return 0;
	}
	return 0;
}

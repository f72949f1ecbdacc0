// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "qlb-echo: not built yet\n");
	return 1;
}

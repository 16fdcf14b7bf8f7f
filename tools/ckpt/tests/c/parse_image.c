// SPDX-License-Identifier: GPL-2.0
/*
 * Runs the kernel tests' image parser (tests/ckpt_image.h) on the host, for
 * tools/ckpt/tests/c_parser.rs: one line per file argument, "ok" or
 * "invalid: <why>".
 */
#include "../../../../tests/ckpt_image.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct ckpt_image img;
		size_t size = 0;
		uint8_t *buf = ckpt_read_file(argv[i], &size);

		if (!buf) {
			perror(argv[i]);
			return 2;
		}
		if (ckpt_image_parse(buf, size, &img))
			printf("ok\n");
		else
			printf("invalid: %s\n", img.why);
		ckpt_image_free(&img);
		free(buf);
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The image's CRC-32 (zlib's, as src/format.rs's ckpt_crc32()) through the
 * kernel's crc32_le(), for src/image.rs when the kernel has an
 * implementation of it for this CPU (x86: PCLMULQDQ folding, far faster
 * than a table; the kernel's generic one goes a byte at a time, slower
 * than format.rs's eight).
 *
 * C, because crc32_optimizations() is an inline function when the kernel
 * has no architecture-specific CRC32 (CONFIG_CRC32_ARCH) and an exported
 * one otherwise, and <linux/crc32.h> is not in the kernel crate's bindings.
 */
#include <linux/bits.h>
#include <linux/crc32.h>

bool ckpt_crc32_le_fast(void);
u32 ckpt_crc32_le(u32 crc, const void *p, size_t len);

/* Is crc32_le() optimized for this CPU? */
bool ckpt_crc32_le_fast(void)
{
	return crc32_optimizations() & CRC32_LE_OPTIMIZATION;
}

/* zlib's crc32() continued from `crc`: crc32_le() works on the register,
 * without zlib's inversions on the way in and out. */
u32 ckpt_crc32_le(u32 crc, const void *p, size_t len)
{
	return ~crc32_le(~crc, p, len);
}

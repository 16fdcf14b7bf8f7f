// SPDX-License-Identifier: GPL-2.0
/*
 * The device and the module's life cycle: /dev/checkpoint, the version
 * ioctl, unknown ioctls, permissions, the load-time layout check, unload
 * and reload. Runs as root in the guest, with rust_ckpt loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../include/uapi/linux/checkpoint.h"

#define DEV "/dev/checkpoint"

static const char *module_path(void)
{
	const char *p = getenv("CKPT_MODULE");

	return p ? p : "./rust_ckpt.ko";
}

/* Does the kernel log contain `needle`? */
static int klog_contains(const char *needle)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int n, found;

	if (len <= 0)
		return -1;
	buf = calloc(1, (size_t)len + 1);
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	found = n > 0 && strstr(buf, needle) != NULL;
	free(buf);
	return found;
}

TEST(device_node_is_char_device_mode_0600_root)
{
	struct stat st;

	ASSERT_EQ(0, stat(DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(10, major(st.st_rdev));	/* a misc device */
}

TEST(version_ioctl_returns_abi_version)
{
	int fd = open(DEV, O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(CKPT_ABI_VERSION, ioctl(fd, CKPT_IOC_VERSION));
	close(fd);
}

TEST(unknown_ioctls_are_enotty)
{
	int fd = open(DEV, O_RDWR);
	struct ckpt_args a = { 0 };

	ASSERT_LE(0, fd);
	/* unused number, other type byte, checkpoint number with a wrong size or direction */
	EXPECT_EQ(-1, ioctl(fd, _IO(CKPT_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO('T', 1)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOW(CKPT_IOC_MAGIC, CKPT_IOC_NR_CHECKPOINT, int), &a));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOR(CKPT_IOC_MAGIC, CKPT_IOC_NR_CHECKPOINT, struct ckpt_args), &a));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST(non_root_open_is_eacces)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		if (open(DEV, O_RDWR) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST(layout_check_passed_at_load)
{
	EXPECT_EQ(1, klog_contains("rust_ckpt: layout check passed"));
	EXPECT_EQ(0, klog_contains("layout check failed"));
}

TEST(module_unloads_and_reloads)
{
	char cmd[512];
	int fd;

	ASSERT_EQ(0, system("rmmod rust_ckpt"));
	EXPECT_NE(0, access(DEV, F_OK));
	EXPECT_NE(0, access("/sys/module/rust_ckpt", F_OK));
	snprintf(cmd, sizeof(cmd), "insmod %s", module_path());
	ASSERT_EQ(0, system(cmd));
	fd = open(DEV, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(CKPT_ABI_VERSION, ioctl(fd, CKPT_IOC_VERSION));
	close(fd);
}

TEST(unload_refused_while_device_open)
{
	int fd = open(DEV, O_RDWR);

	ASSERT_LE(0, fd);
	/* the open file holds a module reference: rmmod must fail */
	EXPECT_NE(0, system("rmmod rust_ckpt 2>/dev/null"));
	EXPECT_EQ(CKPT_ABI_VERSION, ioctl(fd, CKPT_IOC_VERSION));
	close(fd);
}

TEST_HARNESS_MAIN

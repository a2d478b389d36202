/*
 * Test-only LD_PRELOAD shim for running the cross-built simbridge under qemu-user 7.2 (Debian 12).
 *
 * Why: the serialport crate sets the line speed with the termios2 ioctls (TCGETS2/TCSETS2), which
 * every Linux kernel a Raspberry Pi runs implements, but which qemu-user 7.2 does not emulate: it
 * answers ENOSYS and `--modem` fails with "Function not implemented" under emulation only. This
 * shim answers the termios2 requests with the classic TCGETS/TCSETS, which qemu does emulate. The
 * line speed is meaningless on the pty the tests use, so BOTHER speeds are mapped to B115200.
 * Everything else goes to the real ioctl. It is never part of the product or the .deb.
 *
 * Built by scripts/build-pi with the cross compiler: target/pi/termios2-shim-<debian-arch>.so
 */
#define _GNU_SOURCE
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>

/* The kernel's struct termios is struct termios2 without the two speed fields at the end. */
struct ktermios_nospeed {
	tcflag_t c_iflag, c_oflag, c_cflag, c_lflag;
	cc_t c_line;
	cc_t c_cc[NCCS];
};

typedef int (*ioctl_fn)(int, unsigned long, ...);

static unsigned int speed_of(tcflag_t cflag)
{
	switch (cflag & CBAUD) {
	case B9600: return 9600;
	case B19200: return 19200;
	case B38400: return 38400;
	case B57600: return 57600;
	case B115200: return 115200;
	case B230400: return 230400;
	case B460800: return 460800;
	case B921600: return 921600;
	default: return 115200;
	}
}

int ioctl(int fd, unsigned long request, ...)
{
	static ioctl_fn real;
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
	if (!real)
		return -1;

	if (request == TCGETS2) {
		struct termios2 *t2 = arg;
		struct ktermios_nospeed k;
		int r = real(fd, TCGETS, &k);
		if (r != 0)
			return r;
		memcpy(t2, &k, sizeof k);
		t2->c_ispeed = t2->c_ospeed = speed_of(k.c_cflag);
		return 0;
	}
	if (request == TCSETS2 || request == TCSETSW2 || request == TCSETSF2) {
		const struct termios2 *t2 = arg;
		struct ktermios_nospeed k;
		unsigned long classic = request == TCSETS2 ? TCSETS : request == TCSETSW2 ? TCSETSW : TCSETSF;
		memcpy(&k, t2, sizeof k);
		if ((k.c_cflag & CBAUD) == BOTHER)
			k.c_cflag = (k.c_cflag & ~CBAUD) | B115200;
		return real(fd, classic, &k);
	}
	return real(fd, request, arg);
}

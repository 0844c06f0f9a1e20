/* staticbuild's compatibility layer for static musl links: glibc functions that musl
 * 1.2.5 lacks and that code we link expects. Archived into the toolchain's libc.a. */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* close_range(2) (Linux 5.9, glibc 2.34): aardvark-dns 2.x calls it through the libc crate. */
int close_range(unsigned int first, unsigned int last, int flags)
{
	return syscall(SYS_close_range, first, last, flags);
}

/* glibc 2.35's _dl_find_object, which Debian's libgcc_eh.a (the unwinder Rust's std links
 * on musl here) calls to find a PC's unwind tables. Same layout as glibc's on x86_64 and
 * aarch64: no eh_dbase, no eh_count. Built on dl_iterate_phdr, which musl has. */
struct dl_find_object {
	unsigned long long dlfo_flags;
	void *dlfo_map_start;
	void *dlfo_map_end;
	struct link_map *dlfo_link_map;
	void *dlfo_eh_frame;
	unsigned long long __dlfo_reserved[7];
};

struct lookup { uintptr_t pc; struct dl_find_object *out; };

static int find_in(struct dl_phdr_info *info, size_t size, void *data)
{
	struct lookup *q = data;
	uintptr_t start = UINTPTR_MAX, end = 0;
	void *eh_frame = 0;
	int hit = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (ph->p_type == PT_LOAD) {
			if (lo < start) start = lo;
			if (hi > end) end = hi;
			if (q->pc >= lo && q->pc < hi) hit = 1;
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			eh_frame = (void *)lo;
		}
	}
	if (!hit || !eh_frame)
		return 0;
	q->out->dlfo_flags = 0;
	q->out->dlfo_map_start = (void *)start;
	q->out->dlfo_map_end = (void *)end;
	q->out->dlfo_link_map = 0;
	q->out->dlfo_eh_frame = eh_frame;
	return 1;
}

int _dl_find_object(void *pc, struct dl_find_object *result)
{
	struct lookup q = { (uintptr_t)pc, result };
	return dl_iterate_phdr(find_in, &q) ? 0 : -1;
}

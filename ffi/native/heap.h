/* Returning the memory of closed encoder sessions to the system (glibc malloc tuning).
 *
 * An x264 session at 1280x720 allocates ~26 MB: eight blocks of ~3 MB (its pictures and
 * reference planes) and ~2 MB of smaller ones (mallinfo2), and frees them all at close. With glibc's defaults that memory stayed in
 * the process: 240 sessions opened and closed, three at a time, took a Deno process from 99 MB
 * to 210 MB (another run: 153 to 299 MB) of RSS with no session running, whereas only ~5 MB of
 * malloc'd memory was in use (mallinfo2). Not a leak (valgrind: tests/native_leak_test.ts), but
 * two defaults combined:
 *  - the mmap threshold is dynamic: the first time a block that malloc mmap'd is freed, the
 *    threshold rises to that block's size (up to 32 MB) and the trim threshold to twice it, so
 *    every later picture is carved out of a malloc arena instead of getting its own mapping;
 *  - nonblocking FFI calls run on Deno's worker threads, and each thread that allocates gets
 *    its own arena (up to 8 per core). A freed picture at the top of a thread's arena is given
 *    back only above that raised trim threshold, and one in the middle never is.
 * So the freed pictures of each session piled up in a different arena. See heap.c for what is
 * done about it and the measurements. */
#ifndef SMX_HEAP_H
#define SMX_HEAP_H

/* Once per process, before the first encoder allocates: fixes the mmap threshold. Idempotent,
 * thread-safe; a no-op without glibc. */
void smx_heap_tune(void);
/* After an encoder is freed: gives free pages of every arena back (malloc_trim). */
void smx_heap_release(void);

#endif

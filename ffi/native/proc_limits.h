/* Process resource limits smx raises at start-up. (Not "limits.h": that would shadow the system
 * header for anyone compiling with -I on this directory.)
 *
 * Every viewer costs smx file descriptors (its socket, plus ring mappings and encoder sessions
 * while it watches), and Debian's default soft limit of 1024 open files is reached long before
 * the CPU is: accept() then fails with EMFILE. The hard limit (usually 4096 or more) is ours to
 * take without privileges, so smx raises the soft limit to it once. */
#ifndef SMX_PROC_LIMITS_H
#define SMX_PROC_LIMITS_H

#include "smx_common.h"

/* "No limit": RLIM_INFINITY, and what Windows reports (it has no per-process open-files limit
 * of this kind). */
#define SMX_NOFILE_UNLIMITED UINT64_MAX

/* Raises the soft RLIMIT_NOFILE to the hard limit. Writes the soft limit found, the soft limit
 * now in force and the hard limit (each pointer may be NULL; SMX_NOFILE_UNLIMITED for "none").
 * Returns SMX_OK, or SMX_E_IO when getrlimit/setrlimit failed (the outputs then describe the
 * limits still in force). On Windows: SMX_OK, all three SMX_NOFILE_UNLIMITED. Synchronous. */
SMX_EXPORT int smx_raise_nofile(uint64_t *before_out, uint64_t *soft_out, uint64_t *hard_out);

#endif
